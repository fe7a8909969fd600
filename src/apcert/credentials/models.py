"""Each CB's signing keys (public halves only) and the signed credential of each issue."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce


class SigningKey(models.Model):
    """An Ed25519 key with which a CB signs the credentials of its certificate issues, or
    (``cb`` empty) with which the register itself signs its verification receipts.

    Only the public key is stored; the private key is a file in ``settings.KEY_DIR`` (see
    :mod:`apcert.credentials.keyfiles`). A CB has at most one active key (``retired_at`` is
    empty), the one it signs with; generating a new key retires the old one, which still
    verifies what it signed. A key marked compromised from a time no longer verifies proofs
    created from then on. ``key_id`` is the verification method's id in the CB's DID document,
    ``did:web:<host>:cbs:<code>#key-<sequence>``.
    """

    #: Empty for the register's own keys (``did:web:<host>#key-<sequence>``).
    cb = models.ForeignKey(
        "bodies.CertificationBody",
        on_delete=models.PROTECT,
        related_name="signing_keys",
        null=True,
        blank=True,
    )
    sequence = models.PositiveIntegerField()
    key_id = models.CharField(max_length=300, unique=True)
    public_key_multibase = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    active_from = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)
    compromised_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        # By the column, not the CB's own ordering: no join, so rows can be locked (a
        # register key has no CB, and PostgreSQL locks no nullable side of an outer join).
        ordering = ["cb_id", "sequence"]
        constraints = [
            # The register's keys (no CB) count as owner 0: NULLs would never collide.
            models.UniqueConstraint(
                Coalesce(F("cb"), Value(0)), F("sequence"), name="signing_key_sequence_unique"
            ),
            # One key signs for a CB (or for the register) at a time: the one not retired.
            models.UniqueConstraint(
                Coalesce(F("cb"), Value(0)),
                condition=models.Q(retired_at__isnull=True),
                name="signing_key_one_active",
            ),
        ]

    def __str__(self) -> str:
        return self.key_id


class IssueCredential(models.Model):
    """The signed verifiable credential of one certificate issue, made once and kept.

    Like the issue it describes it is never changed: a new issue gets its own credential.
    Derived from the issue's public snapshot, so it holds nothing private.
    """

    issue = models.OneToOneField(
        "certificates.CertificateIssue", on_delete=models.PROTECT, related_name="credential"
    )
    signing_key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="+")
    credential = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issue"]

    def __str__(self) -> str:
        return f"credential of {self.issue_id}"
