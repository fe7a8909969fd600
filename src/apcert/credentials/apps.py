from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apcert.credentials"
    label = "credentials"
    verbose_name = "signed certificates (verifiable credentials)"
