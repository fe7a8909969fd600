"""The Secretariat's back-office pages, under /office/secretariat/ (namespace ``web:sec``)."""

from django.urls import path

from apcert.web.sections.sec import views as v

app_name = "sec"

urlpatterns = [
    path("", v.cb_list, name="cbs"),
    path("cbs/new", v.cb_new, name="cb-new"),
    path("cbs/<int:pk>/", v.cb_detail, name="cb"),
    path("cbs/<int:pk>/acceptances", v.acceptance_new, name="acceptance-new"),
    path("acceptances/<int:pk>/status", v.acceptance_status, name="acceptance-status"),
    path("reference/", v.reference, name="reference"),
    path("certificates/", v.certificate_list, name="certificates"),
    path(
        "schemes/<int:pk>/publication-review",
        v.scheme_publication_review,
        name="scheme-publication-review",
    ),
    path("publication/", v.publication_reviews, name="publication-reviews"),
    path("publication/<int:pk>/", v.publication_review, name="publication-review"),
    path("publication/<int:pk>/approve", v.publication_approve, name="publication-approve"),
    path("publication/<int:pk>/return", v.publication_return, name="publication-return"),
]
