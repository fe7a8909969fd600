from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "apcert.demo"
    label = "demo"
