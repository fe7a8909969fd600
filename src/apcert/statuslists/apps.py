from django.apps import AppConfig


class StatusListsConfig(AppConfig):
    name = "apcert.statuslists"
    label = "statuslists"
    verbose_name = "Certificate status lists"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apcert.certificates import derived
        from apcert.statuslists.services import status_lists_keep

        # The CB's suspension and revocation bits follow every change of a certificate.
        derived.register(status_lists_keep, order=derived.ORDER_STATUS_LISTS)
