from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "apcert.web"
    label = "web"
    verbose_name = "back office"
