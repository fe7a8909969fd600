from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apcert.notifications"
    label = "notifications"
