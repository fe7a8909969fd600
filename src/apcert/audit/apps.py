from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apcert.audit"
    label = "audit"
