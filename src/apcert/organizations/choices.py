from django.db import models


class OrganizationRole(models.TextChoices):
    ADMIN = "admin", "organization administrator"
    MEMBER = "member", "member"
