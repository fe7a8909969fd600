from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "apcert.credentials"
    label = "credentials"
    verbose_name = "signed certificates (verifiable credentials)"

    def ready(self) -> None:
        from apcert.certificates import derived
        from apcert.credentials.services import credential_keep

        # The latest issue is signed once it is public, after the status lists it names.
        derived.register(credential_keep, order=derived.ORDER_CREDENTIAL)
