from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON APIs: their ``export-openapi`` command, and the answers to writes kept for
    their ``Idempotency-Key``."""

    name = "apcert.api"
    label = "api"
