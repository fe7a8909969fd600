"""The organization section of the back office, under /office/org/ (namespace ``web:org``)."""

from django.urls import path

from apcert.assessments.views_evidence import evidence_download
from apcert.web.sections.org import views

app_name = "org"

urlpatterns = [
    path("", views.organization_list, name="organizations"),
    path("<int:org_id>/", views.profile, name="profile"),
    path("<int:org_id>/sites/new", views.site_new, name="site-new"),
    path("<int:org_id>/applications/", views.application_list, name="applications"),
    path("<int:org_id>/applications/new", views.application_new, name="application-new"),
    path("<int:org_id>/applications/<int:app_id>/", views.application_detail, name="application"),
    path(
        "<int:org_id>/applications/<int:app_id>/scope-lines",
        views.scope_line_new,
        name="scope-line-new",
    ),
    path(
        "<int:org_id>/applications/<int:app_id>/scope-lines/<int:line_id>/edit",
        views.scope_line_edit,
        name="scope-line-edit",
    ),
    path(
        "<int:org_id>/applications/<int:app_id>/scope-lines/<int:line_id>/remove",
        views.scope_line_remove_view,
        name="scope-line-remove",
    ),
    path(
        "<int:org_id>/applications/<int:app_id>/submit",
        views.application_submit_view,
        name="application-submit",
    ),
    path(
        "<int:org_id>/applications/<int:app_id>/withdraw",
        views.application_withdraw_view,
        name="application-withdraw",
    ),
    path("<int:org_id>/findings/", views.finding_list, name="findings"),
    path("<int:org_id>/findings/<int:finding_id>/", views.finding_detail, name="finding"),
    path("<int:org_id>/findings/<int:finding_id>/answer", views.finding_answer, name="answer"),
    path(
        "<int:org_id>/findings/<int:finding_id>/evidence",
        views.evidence_upload,
        name="evidence-new",
    ),
    path(
        "<int:org_id>/findings/<int:finding_id>/evidence/<int:evidence_id>/remove",
        views.evidence_remove_view,
        name="evidence-remove",
    ),
    path("<int:org_id>/assessments/", views.assessment_report_list, name="assessment-reports"),
    path(
        "<int:org_id>/assessments/<int:pk>/report.html",
        views.assessment_report_page,
        name="assessment-report-html",
    ),
    path(
        "<int:org_id>/assessments/<int:pk>/report.pdf",
        views.assessment_report_pdf,
        name="assessment-report-pdf",
    ),
    path("<int:org_id>/certificates/", views.certificate_list, name="certificates"),
    path("<int:org_id>/certificates/<int:cert_id>/", views.certificate_detail, name="certificate"),
    # Served to those who may see the file, 404 to anyone else (evidence_open decides).
    path("evidence/<int:evidence_id>", evidence_download, name="evidence"),
]
