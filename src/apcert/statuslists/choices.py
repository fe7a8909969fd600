from django.db import models


class StatusPurpose(models.TextChoices):
    """The two purposes of the W3C Bitstring Status List that apcert publishes."""

    SUSPENSION = "suspension", "suspension"
    REVOCATION = "revocation", "revocation"
