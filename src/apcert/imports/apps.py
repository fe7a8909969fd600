from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "apcert.imports"
    label = "imports"
    verbose_name = "bulk import of an existing register"
