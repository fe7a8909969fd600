from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "apcert.assessments"
    label = "assessments"
