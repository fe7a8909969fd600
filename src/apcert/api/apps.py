from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON APIs; an app only for its ``export-openapi`` command (it has no models)."""

    name = "apcert.api"
    label = "api"
