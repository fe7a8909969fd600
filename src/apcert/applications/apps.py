from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apcert.applications"
    label = "applications"
