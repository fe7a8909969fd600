from django.db import models


class AcceptanceStatus(models.TextChoices):
    ACTIVE = "active", "active"
    SUSPENDED = "suspended", "suspended"
    WITHDRAWN = "withdrawn", "withdrawn"


class CBRole(models.TextChoices):
    ADMIN = "admin", "CB administrator"
    SCHEME_MANAGER = "scheme_manager", "scheme manager"
    ASSESSOR = "assessor", "assessor"
    DECISION_MAKER = "decision_maker", "decision maker"
