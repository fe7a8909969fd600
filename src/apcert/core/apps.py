from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apcert.core"
    label = "core"
    verbose_name = "apcert core"
