"""Signing keys and signed credentials: the only writes of this app.

Key generation and compromise are regulated changes: one audit event each, in the same
transaction. A credential is derived from its issue (like the search index) and records the
key that signed it; it writes no audit event of its own, so that the issue's service keeps
its one event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apcert.audit.services import audit_record
from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.selectors import certificate_last_issue
from apcert.core.db.replicas import PRIMARY, reading_from
from apcert.core.errors import (
    INVALID_DATE,
    INVALID_DATETIME,
    NotFound,
    RuleViolation,
    ValidationFailed,
)
from apcert.credentials import identifiers, keyfiles, multikey, selectors
from apcert.credentials.document import build_credential
from apcert.credentials.errors import (
    CB_UNKNOWN,
    CERTIFICATE_UNKNOWN,
    KEY_ALREADY_COMPROMISED,
    KEY_DIR_UNWRITABLE,
    KEY_NONE,
    KEY_UNKNOWN,
    RECEIPT_BEFORE_FIRST_ISSUE,
    STATUS_LIST_UNKNOWN,
)
from apcert.credentials.models import IssueCredential, SigningKey
from apcert.credentials.proofs import create_proof

if TYPE_CHECKING:
    from apcert.accounts.models import User


def cb_by_code(code: str) -> CertificationBody:
    """The CB with this code (any case); :class:`NotFound` ``cb.unknown`` otherwise."""
    cb = CertificationBody.objects.filter(code__iexact=code.strip()).first()
    if cb is None:
        raise NotFound(f"There is no certification body {code!r}.", code=CB_UNKNOWN)
    return cb


def signing_key_generate(
    *, actor: User | None, cb: CertificationBody | None, actor_label: str | None = None
) -> SigningKey:
    """Make a new Ed25519 key for the CB (or, ``cb=None``, for the register itself, which
    signs verification receipts) and sign with it from now on (rotation).

    The previous key is retired: it signs nothing more and still verifies what it signed.
    The private key is written to its file before the row; if the transaction fails the
    file is removed again.
    """
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    public = multikey.public_key_multibase(raw)
    owner = keyfiles.REGISTER_DIR if cb is None else cb.code
    try:
        keyfiles.write_private_key(owner, public, private_key)
    except OSError as exc:
        raise ValidationFailed(
            f"The key directory {keyfiles.key_dir()} cannot be written: {exc.strerror}.",
            code=KEY_DIR_UNWRITABLE,
        ) from None
    try:
        with transaction.atomic():
            if cb is not None:
                cb = CertificationBody.objects.select_for_update().get(pk=cb.pk)
            now = timezone.now()
            previous = SigningKey.objects.select_for_update().filter(cb=cb, retired_at__isnull=True)
            retired = [key.key_id for key in previous]
            previous.update(retired_at=now)
            last = SigningKey.objects.filter(cb=cb).aggregate(n=Max("sequence"))["n"] or 0
            key = SigningKey.objects.create(
                cb=cb,
                sequence=last + 1,
                key_id=(
                    identifiers.register_key_id(last + 1)
                    if cb is None
                    else identifiers.key_id(cb.code, last + 1)
                ),
                public_key_multibase=public,
                active_from=now,
            )
            audit_record(
                actor=actor,
                actor_label=actor_label,
                action="signing_key.generate",
                obj=key,
                before={"signing_key": retired[0] if retired else None},
                after={
                    "cb": cb.code if cb is not None else None,
                    "key_id": key.key_id,
                    "public_key_multibase": public,
                },
            )
    except BaseException:
        keyfiles.remove_private_key(owner, public)
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
        raise ValidationFailed("Give the time with its time zone.", code=INVALID_DATETIME)
    with transaction.atomic():
        key = SigningKey.objects.select_for_update().filter(key_id=key_id).first()
        if key is None:
            raise NotFound(f"There is no signing key {key_id!r}.", code=KEY_UNKNOWN)
        if key.compromised_from is not None and since >= key.compromised_from:
            raise RuleViolation(
                f"The key is already compromised since {key.compromised_from.isoformat()}.",
                code=KEY_ALREADY_COMPROMISED,
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


def _proof(document: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """``document`` secured with an ``eddsa-jcs-2022`` proof by ``key`` (its file read now)."""
    private_key = keyfiles.read_private_key(keyfiles.owner_dir(key), key.public_key_multibase)
    return create_proof(
        document,
        private_key=private_key,
        verification_method=key.key_id,
        created=timezone.now(),
    )


def _sign(issue: CertificateIssue, key: SigningKey, **options: Any) -> dict[str, Any]:
    return _proof(build_credential(issue, **options), key)


def _signing_key(cb: CertificationBody) -> SigningKey:
    """The CB's current key; :class:`RuleViolation` ``key.none`` when it has none."""
    key = selectors.current_key(cb)
    if key is None:
        raise RuleViolation(
            f"CB {cb.code} has no signing key: generate one with apcert keys-generate.",
            code=KEY_NONE,
        )
    key.cb = cb
    return key


def sign_document(cb: CertificationBody, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (a credential the CB issues, such as its status lists) signed with the
    CB's current key, with the same cryptosuite as its certificates' credentials. Nothing
    is stored.

    Raises :class:`RuleViolation` ``key.none`` when the CB has no signing key now, and
    :class:`ValidationFailed` ``key.file_missing``/``key.file_unreadable`` when its file is.
    """
    return _proof(document, _signing_key(cb))


def issue_credential(
    issue: CertificateIssue, *, status_entries: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The credential of ``issue`` signed with its CB's current key (not stored).

    Raises :class:`RuleViolation` ``key.none`` when the CB has no signing key, and
    :class:`ValidationFailed` ``key.file_missing``/``key.file_unreadable`` when its file is.
    """
    return _sign(issue, _signing_key(issue.certificate.cb), status_entries=status_entries)


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
    # Whether to sign and store is decided on what the primary holds: a replica read by a
    # public download may not yet have the credential another request has just stored.
    with reading_from(PRIMARY):
        return _credential_stored(issue, status_entries)


def _credential_stored(
    issue: CertificateIssue, status_entries: list[dict[str, Any]] | None
) -> dict[str, Any] | None:
    stored = selectors.stored_credential(issue.pk)
    if stored is not None:
        return dict(stored.credential)
    certificate = issue.certificate
    if certificate.status == CertificateStatus.DRAFT:
        return None  # not public yet: signed when it is published
    cb = certificate.cb
    key = selectors.current_key(cb)
    if key is None:
        return None
    key.cb = cb
    if status_entries is None:
        # Every credential names its place in the CB's status lists; a
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


def status_list_credential(*, cb_code: str, purpose: str) -> dict[str, Any]:
    """The CB's status list for ``purpose`` (``suspension`` or ``revocation``) as it is now,
    signed with the CB's current key: what ``/bodies/<code>/status/<purpose>`` serves.

    Signed on each call (one Ed25519 signature) so that a bit set by a service is published
    as soon as its transaction commits. :class:`NotFound` ``status_list.unknown`` for an
    unknown CB or purpose; :class:`RuleViolation` ``key.none`` when the CB cannot sign now.
    """
    from apcert.statuslists.choices import StatusPurpose
    from apcert.statuslists.selectors import published_status_list

    cb = CertificationBody.objects.filter(code=cb_code).first()
    if cb is None or purpose not in StatusPurpose.values:
        raise NotFound(
            f"There is no {purpose!r} status list of a certification body {cb_code!r}: the "
            f"lists are {', '.join(StatusPurpose.values)}.",
            code=STATUS_LIST_UNKNOWN,
        )
    document = published_status_list(cb, purpose, issuer=identifiers.cb_did(cb.code))
    return sign_document(cb, document)


def receipt_issue(*, number: str, on: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """The register's signed verification receipt: whether public certificate ``number``
    was current on ``on`` (the register's as-of answer), checked now, signed with the
    register's own key. Nothing is stored: a receipt is a statement handed out, and the
    as-of answer for a past day never changes.

    :class:`NotFound` ``certificate.unknown``; :class:`ValidationFailed` ``invalid.date``
    for a day after today and ``receipt.before_first_issue`` for a day before the
    certificate's first issue (before it, the register has nothing to say of it: a
    receipt for such a day would only look like evidence); :class:`RuleViolation`
    ``key.none`` when the register has no key.
    """
    from apcert.certificates.asof import certificate_as_of
    from apcert.credentials.receipts import build_receipt, receipt_status
    from apcert.register.selectors import public_certificate

    now = now or timezone.now()
    if on > timezone.localdate(now):
        raise ValidationFailed(
            "A receipt tells what the register shows up to today, not about a later day.",
            code=INVALID_DATE,
        )
    certificate = public_certificate(number.strip()) if number.strip() else None
    if certificate is None:
        raise NotFound(
            f"The public register has no certificate {number.strip()[:80]!r}.",
            code=CERTIFICATE_UNKNOWN,
        )
    if on < certificate.first_issued_on:
        raise ValidationFailed(
            f"Certificate {certificate.number} was first issued on "
            f"{certificate.first_issued_on.isoformat()}: a receipt can speak only of a day "
            f"from then to today, not of {on.isoformat()}.",
            code=RECEIPT_BEFORE_FIRST_ISSUE,
        )
    key = selectors.current_register_key()
    if key is None:
        raise RuleViolation(
            "The register has no signing key for receipts: generate one with "
            "apcert keys-generate --register.",
            code=KEY_NONE,
        )
    answer = certificate_as_of(certificate=certificate, on=on)
    status = receipt_status(certificate, on)
    return _proof(build_receipt(answer, checked_at=now, status=status), key)


def credential_keep(certificate: Certificate) -> None:
    """Sign the latest issue of a public certificate once its CB has a signing key (a draft
    is signed when it is published). Runs after the status lists: the credential names the
    certificate's place in them."""
    if certificate.status == CertificateStatus.DRAFT:
        return
    from apcert.statuslists.selectors import status_entries
    from apcert.statuslists.services import status_entry_allocate

    issue = certificate_last_issue(certificate)
    if issue is not None:
        credential_for_issue(
            issue, status_entries=status_entries(certificate, status_entry_allocate(certificate))
        )


class KeyRing:
    """Private keys read once and held in memory, for a batch that signs with the same few:
    each key's file is read (and checked against its public key) the first time it signs."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PrivateKey] = {}

    def private_key(self, key: SigningKey) -> Ed25519PrivateKey:
        if key.key_id not in self._keys:
            self._keys[key.key_id] = keyfiles.read_private_key(
                keyfiles.owner_dir(key), key.public_key_multibase
            )
        return self._keys[key.key_id]


def _signed_rows(
    issues: list[CertificateIssue], current: dict[int | None, SigningKey], ring: KeyRing
) -> list[IssueCredential]:
    """The credentials of ``issues`` (each with its certificate, CB and scheme at hand),
    signed with their CBs' keys in ``current``, their places in the status lists given
    together; not yet stored."""
    from apcert.statuslists.selectors import status_entries
    from apcert.statuslists.services import status_entries_allocate_many

    places = status_entries_allocate_many(issue.certificate for issue in issues)
    created = timezone.now()
    rows = []
    for issue in issues:
        certificate = issue.certificate
        key = current[certificate.cb_id]
        document = build_credential(
            issue, status_entries=status_entries(certificate, places[certificate.pk])
        )
        credential = create_proof(
            document,
            private_key=ring.private_key(key),
            verification_method=key.key_id,
            created=created,
        )
        rows.append(IssueCredential(issue=issue, signing_key=key, credential=credential))
    return rows


def credentials_sign_issues(issues: list[CertificateIssue]) -> int:
    """Sign and store the credentials of these latest issues of public certificates, just
    written in the caller's transaction and still at hand (each with its certificate, and
    the certificate with its CB and scheme): what :func:`credentials_sign_missing` does for
    a batch it reads, for a batch a bulk write holds (an import), without reading it back.
    Issues of a CB with no signing key are passed over (signed when it has one). Returns
    how many were signed."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("credentials_sign_issues() must run inside the caller's transaction")
    cb_ids = {issue.certificate.cb_id for issue in issues}
    keys = SigningKey.objects.filter(cb_id__in=cb_ids, retired_at__isnull=True)
    current = {key.cb_id: key for key in keys.select_related("cb")}
    if not current:
        return 0
    signable = [
        issue
        for issue in issues
        if issue.certificate.cb_id in current
        and issue.certificate.status != CertificateStatus.DRAFT
    ]
    rows = _signed_rows(signable, current, KeyRing())
    IssueCredential.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def credentials_sign_missing(
    *,
    cb: CertificationBody | None = None,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Sign and store the credential of every public certificate's latest issue that has
    none yet (of ``cb``, or of every CB), with its CB's current key; a CB with no key is
    passed over (its issues are signed when it has one). What :func:`credential_keep` does
    for one certificate, for many: ``batch_size`` issues a transaction, read in one query
    with what the credential needs, their status list places given together, the key
    files read once, the credentials written together. Returns how many were signed.

    Raises :class:`ValidationFailed` ``key.file_missing``/``key.file_unreadable`` when a
    key's file is; what was signed before stays signed.
    """
    keys = SigningKey.objects.filter(cb__isnull=False, retired_at__isnull=True)
    if cb is not None:
        keys = keys.filter(cb=cb)
    current = {key.cb_id: key for key in keys.select_related("cb")}
    waiting = (
        selectors.unsigned_latest_issues(cb)
        .filter(certificate__cb_id__in=list(current))
        .select_related("certificate__cb", "certificate__scheme")
        .order_by("pk")
    )
    ring = KeyRing()
    signed = 0
    after = 0
    while True:
        with transaction.atomic():
            issues = list(waiting.filter(pk__gt=after)[:batch_size])
            if not issues:
                return signed
            after = issues[-1].pk
            rows = _signed_rows(issues, current, ring)
            # An issue another transaction signed meanwhile keeps its credential.
            IssueCredential.objects.bulk_create(rows, ignore_conflicts=True)
        signed += len(rows)
        if progress is not None:
            progress(len(rows))
