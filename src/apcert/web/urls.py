"""The back office, under /office/: one package per section under :mod:`apcert.web.sections`."""

from django.urls import include, path

from apcert.web.sections.cb.views.calendar import calendar_ics

app_name = "web"

urlpatterns = [
    path("", include("apcert.web.sections.account.urls")),
    # A person's calendar feed, read by their calendar application without signing in:
    # the secret token in the address is the key (its page is in the CB section).
    path("calendar/<str:token>.ics", calendar_ics, name="calendar-ics"),
    path("cb/", include("apcert.web.sections.cb.urls")),
    path("org/", include("apcert.web.sections.org.urls")),
    path("secretariat/", include("apcert.web.sections.sec.urls")),
    path("import/", include("apcert.web.sections.imports.urls")),
]
