from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "apcert.cycle"
    label = "cycle"
