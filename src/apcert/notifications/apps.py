from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apcert.notifications"
    label = "notifications"

    def ready(self) -> None:
        from apcert.audit import listeners
        from apcert.notifications.workflow import event_recorded

        # Every workflow step writes its audit event; the messages that tell the people who
        # act next are written from it, in the same transaction. No app below imports this.
        listeners.register(event_recorded, order=listeners.ORDER_MESSAGES)
