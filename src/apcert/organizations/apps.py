from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "apcert.organizations"
    label = "organizations"
