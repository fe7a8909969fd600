from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "apcert.certificates"
    label = "certificates"
