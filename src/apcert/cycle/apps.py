from django.apps import AppConfig


class CycleConfig(AppConfig):
    name = "apcert.cycle"
    label = "cycle"

    def ready(self) -> None:
        from apcert.assessments import derived as assessments_derived
        from apcert.certificates import derived as certificates_derived
        from apcert.cycle import subscriptions
        from apcert.schemes import derived as schemes_derived

        # The stored visit schedule follows the certificate, its assessments and its
        # scheme's rules: each app below announces its changes, none imports the schedule.
        certificates_derived.register(
            subscriptions.certificate_changed, order=certificates_derived.ORDER_VISIT_SCHEDULE
        )
        assessments_derived.register(subscriptions.certificate_visits_changed)
        schemes_derived.register(subscriptions.scheme_rules_changed)
