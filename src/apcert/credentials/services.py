"""Signing keys and signed credentials: the only writes of this app.

Key generation and compromise are regulated changes: one audit event each, in the same
transaction. A credential is derived from its issue (like the search index) and records the
key that signed it; it writes no audit event of its own, so that the issue's service keeps
its one event.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apcert.audit.services import audit_record
from apcert.bodies.models import CertificationBody
from apcert.certificates.models import CertificateIssue
from apcert.core.errors import NotFound, RuleViolation, ValidationFailed
from apcert.credentials import identifiers, keyfiles, multikey, selectors
from apcert.credentials.document import build_credential
from apcert.credentials.models import IssueCredential, SigningKey
from apcert.credentials.proofs import create_proof

if TYPE_CHECKING:
    from apcert.accounts.models import User


def cb_by_code(code: str) -> CertificationBody:
    """The CB with this code (any case); :class:`NotFound` ``cb.unknown`` otherwise."""
    cb = CertificationBody.objects.filter(code__iexact=code.strip()).first()
    if cb is None:
        raise NotFound(f"There is no certification body {code!r}.", code="cb.unknown")
    return cb


def signing_key_generate(
    *, actor: User | None, cb: CertificationBody, actor_label: str | None = None
) -> SigningKey:
    """Make a new Ed25519 key for the CB and sign with it from now on (rotation).

    The previous key is retired: it signs nothing more and still verifies what it signed.
    The private key is written to its file before the row; if the transaction fails the
    file is removed again.
    """
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    public = multikey.public_key_multibase(raw)
    try:
        keyfiles.write_private_key(cb.code, public, private_key)
    except OSError as exc:
        raise ValidationFailed(
            f"The key directory {keyfiles.key_dir()} cannot be written: {exc.strerror}.",
            code="key.dir_unwritable",
        ) from None
    try:
        with transaction.atomic():
            cb = CertificationBody.objects.select_for_update().get(pk=cb.pk)
            now = timezone.now()
            previous = SigningKey.objects.select_for_update().filter(cb=cb, retired_at__isnull=True)
            retired = [key.key_id for key in previous]
            previous.update(retired_at=now)
            last = SigningKey.objects.filter(cb=cb).aggregate(n=Max("sequence"))["n"] or 0
            key = SigningKey.objects.create(
                cb=cb,
                sequence=last + 1,
                key_id=identifiers.key_id(cb.code, last + 1),
                public_key_multibase=public,
                active_from=now,
            )
            audit_record(
                actor=actor,
                actor_label=actor_label,
                action="signing_key.generate",
                obj=key,
                before={"signing_key": retired[0] if retired else None},
                after={"cb": cb.code, "key_id": key.key_id, "public_key_multibase": public},
            )
    except BaseException:
        keyfiles.remove_private_key(cb.code, public)
        raise
    return key


def signing_key_compromise(
    *, actor: User | None, key_id: str, since: dt.datetime, actor_label: str | None = None
) -> SigningKey:
    """Mark a key compromised from ``since``: proofs it made from then on (by their
    ``created``) no longer verify; earlier ones still do. The key is retired if it was the
    CB's signing key, so the CB signs nothing until it generates a new one. An earlier
    ``since`` than one already recorded may be set; a later one may not (it would make
    trusted again what was distrusted)."""
    if since.tzinfo is None:
        raise ValidationFailed("Give the time with its time zone.", code="invalid.datetime")
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(key_id=key_id).first()
        if key is None:
            raise NotFound(f"There is no signing key {key_id!r}.", code="key.unknown")
        if key.compromised_from is not None and since >= key.compromised_from:
            raise RuleViolation(
                f"The key is already compromised since {key.compromised_from.isoformat()}.",
                code="key.already_compromised",
            )
        before = {"compromised_from": key.compromised_from, "retired_at": key.retired_at}
        key.compromised_from = since
        if key.retired_at is None:
            key.retired_at = timezone.now()
        key.save(update_fields=["compromised_from", "retired_at"])
        audit_record(
            actor=actor,
            actor_label=actor_label,
            action="signing_key.compromise",
            obj=key,
            before=before,
            after={"compromised_from": key.compromised_from, "retired_at": key.retired_at},
        )
    return key


def _sign(issue: CertificateIssue, key: SigningKey, **options: Any) -> dict[str, Any]:
    private_key = keyfiles.read_private_key(key.cb.code, key.public_key_multibase)
    return create_proof(
        build_credential(issue, **options),
        private_key=private_key,
        verification_method=key.key_id,
        created=timezone.now(),
    )


def issue_credential(
    issue: CertificateIssue, *, status_entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The credential of ``issue`` signed with its CB's current key (not stored).

    Raises :class:`RuleViolation` ``key.none`` when the CB has no signing key, and
    :class:`ValidationFailed` ``key.file_missing``/``key.file_unreadable`` when its file is.
    """
    cb = issue.certificate.cb
    key = selectors.current_key(cb)
    if key is None:
        raise RuleViolation(
            f"CB {cb.code} has no signing key: generate one with apcert keys-generate.",
            code="key.none",
        )
    key.cb = cb
    return _sign(issue, key, status_entries=status_entries)


def credential_for_issue(
    issue: CertificateIssue, *, status_entries: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The stored signed credential of ``issue``; made, signed and stored on first call.

    ``None`` when the CB has no signing key yet (the issue is valid without one). Call it
    inside the transaction that writes the issue, so that the two are committed together;
    each issue gets one credential, never replaced.
    """
    stored = selectors.stored_credential(issue.pk)
    if stored is not None:
        return dict(stored.credential)
    certificate = issue.certificate
    if certificate.status == "draft":
        return None  # not public yet: signed when it is published
    cb = certificate.cb
    key = selectors.current_key(cb)
    if key is None:
        return None
    key.cb = cb
    if status_entries is None:
        # Every credential names its place in the CB's status lists (issue 6); a
        # certificate that has none yet (made before the lists) takes it now.
        from apcert.statuslists.selectors import status_entries as entries_of
        from apcert.statuslists.services import status_lists_apply

        with transaction.atomic():
            entry = status_lists_apply(certificate)
        assert entry is not None
        status_entries = entries_of(certificate, entry)
    credential = _sign(issue, key, status_entries=status_entries)
    try:
        with transaction.atomic():
            IssueCredential.objects.create(issue=issue, signing_key=key, credential=credential)
    except IntegrityError:
        # Another transaction stored this issue's credential first: keep theirs.
        stored = selectors.stored_credential(issue.pk)
        if stored is None:
            raise
        return dict(stored.credential)
    return credential
