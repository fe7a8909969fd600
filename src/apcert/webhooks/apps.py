from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apcert.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from apcert.audit import listeners
        from apcert.core.upkeep import register_upkeep
        from apcert.webhooks.events import event_recorded
        from apcert.webhooks.services import webhooks_unconfirmed_upkeep
        from apcert.webhooks.tasks import delivery_queue_if_due

        # Every regulated change writes its audit event; the webhook outbox rows are written
        # from it, in the same transaction. No app below imports this one.
        listeners.register(event_recorded, order=listeners.ORDER_WEBHOOKS)
        # A retry falls due whether or not anything changes meanwhile.
        register_upkeep("webhook deliveries", delivery_queue_if_due)
        register_upkeep("unconfirmed public webhooks", webhooks_unconfirmed_upkeep)
