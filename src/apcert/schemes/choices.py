from django.db import models


class StandardStatus(models.TextChoices):
    CURRENT = "current", "current"
    SUPERSEDED = "superseded", "superseded"
    WITHDRAWN = "withdrawn", "withdrawn"


class SuspensionEndAction(models.TextChoices):
    WITHDRAW = "withdraw", "withdraw the certificate"
    REDUCE_SCOPE = "reduce_scope", "reduce the scope"
