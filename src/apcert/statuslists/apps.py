from django.apps import AppConfig


class StatusListsConfig(AppConfig):
    name = "apcert.statuslists"
    label = "statuslists"
    verbose_name = "Certificate status lists"
    default_auto_field = "django.db.models.BigAutoField"
