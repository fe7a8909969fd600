from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "apcert.backups"
    label = "backups"
