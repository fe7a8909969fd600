"""Public register pages (HTML): search, certificates, organizations, certification bodies."""

from django.urls import path

from apcert.register import views, views_verify

app_name = "register"

urlpatterns = [
    path("", views.search_page, name="search"),
    # Numbers hold spaces and dots ("IECQ-A XX 26.0001"); links to them are URL-quoted.
    # The PDF's route comes first: the page's <path:number> would swallow it.
    path(
        "certificates/<path:number>/issues/<int:issue_number>.pdf",
        views.certificate_pdf,
        name="certificate_pdf",
    ),
    path("certificates/<path:number>", views.certificate_page, name="certificate"),
    path("organizations/<int:organization_id>", views.organization_page, name="organization"),
    path("verify", views_verify.verify_page, name="verify"),
    path("verify/receipt", views_verify.receipt_download, name="verify-receipt"),
    path("bodies/", views.body_list_page, name="bodies"),
    path("bodies/<str:code>", views.body_page, name="body"),
]
