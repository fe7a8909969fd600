from django.apps import AppConfig


class RegisterConfig(AppConfig):
    name = "apcert.register"
    label = "register"

    def ready(self) -> None:
        from apcert.certificates import derived
        from apcert.register.index import index_certificate

        # The register's search index follows every change of a certificate.
        derived.register(index_certificate, order=derived.ORDER_SEARCH_INDEX)
