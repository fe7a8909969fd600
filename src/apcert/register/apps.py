from django.apps import AppConfig


class RegisterConfig(AppConfig):
    name = "apcert.register"
    label = "register"

    def ready(self) -> None:
        from apcert.certificates import derived
        from apcert.core.upkeep import register_upkeep
        from apcert.register.index import index_certificate
        from apcert.register.word_bands import word_bands_upkeep

        # The register's search index follows every change of a certificate.
        derived.register(index_certificate, order=derived.ORDER_SEARCH_INDEX)
        # The word index's next band is made before the certificates' ids reach it.
        register_upkeep("word index bands", word_bands_upkeep)
