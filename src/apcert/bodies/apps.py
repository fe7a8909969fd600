from django.apps import AppConfig


class BodiesConfig(AppConfig):
    name = "apcert.bodies"
    label = "bodies"
