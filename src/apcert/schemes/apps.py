from django.apps import AppConfig


class SchemesConfig(AppConfig):
    name = "apcert.schemes"
    label = "schemes"
