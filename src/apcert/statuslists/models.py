"""Status lists of certificates: one bit per certificate in each of a CB's two lists."""

from __future__ import annotations

from django.db import models

from apcert.statuslists.choices import StatusPurpose


class StatusList(models.Model):
    """One W3C Bitstring Status List of a certification body: the ``suspension`` list (a
    bit set while a certificate is suspended) or the ``revocation`` list (a bit set for
    good once it is withdrawn or cancelled). Updated in the transaction of the status change;
    published as a signed credential at ``/bodies/<code>/status/<purpose>``."""

    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, related_name="status_lists"
    )
    purpose = models.CharField(max_length=20, choices=StatusPurpose.choices)
    #: The bits, most significant first; a whole number of 16 KiB blocks.
    bits = models.BinaryField()
    #: Raised by one at every change, so a published copy can say which state it shows.
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cb", "purpose"], name="status_list_unique"),
            models.CheckConstraint(
                condition=models.Q(purpose__in=StatusPurpose.values),
                name="status_list_purpose_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} list of CB {self.cb_id}"


class StatusListEntry(models.Model):
    """The place of one certificate in its CB's lists: the same index in both. Every issue
    of the certificate names it, so suspending the certificate suspends every issue's
    credential. Given once, never reused."""

    certificate = models.OneToOneField(
        "certificates.Certificate", on_delete=models.PROTECT, related_name="status_entry"
    )
    cb = models.ForeignKey("bodies.CertificationBody", on_delete=models.PROTECT, related_name="+")
    index = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cb", "index"], name="status_entry_index_unique")
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} at {self.index}"
