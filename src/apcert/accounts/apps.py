from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apcert.accounts"
    label = "accounts"
