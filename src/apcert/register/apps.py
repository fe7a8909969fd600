from django.apps import AppConfig


class RegisterConfig(AppConfig):
    name = "apcert.register"
    label = "register"
