"""The back office, under /office/: one package per section under :mod:`apcert.web.sections`."""

from django.urls import include, path

app_name = "web"

urlpatterns = [
    path("", include("apcert.web.sections.account.urls")),
    path("cb/", include("apcert.web.sections.cb.urls")),
    path("org/", include("apcert.web.sections.org.urls")),
    path("secretariat/", include("apcert.web.sections.sec.urls")),
]
