"""The certification body's back-office pages, under /office/cb/ (namespace ``web:cb``)."""

from django.urls import path

from apcert.assessments.views_evidence import evidence_download
from apcert.web.sections.cb import views as v

app_name = "cb"

urlpatterns = [
    path("applications/", v.application_list, name="applications"),
    path("applications/<int:pk>/", v.application_detail, name="application"),
    path("applications/<int:pk>/accept", v.application_accept_view, name="application-accept"),
    path("applications/<int:pk>/reject", v.application_reject_view, name="application-reject"),
    path("applications/<int:pk>/plan", v.assessment_plan_view, name="assessment-plan"),
    path("assessments/", v.assessment_list, name="assessments"),
    path("assessments/<int:pk>/", v.assessment_detail, name="assessment"),
    path("assessments/<int:pk>/start", v.assessment_start_view, name="assessment-start"),
    path("assessments/<int:pk>/findings", v.finding_record_view, name="finding-record"),
    path("assessments/<int:pk>/report", v.assessment_report_view, name="assessment-report"),
    path("assessments/<int:pk>/decision", v.decision_view, name="decision"),
    path(
        "corrective-actions/<int:pk>/review",
        v.corrective_action_review_view,
        name="corrective-action-review",
    ),
    path("evidence/<int:evidence_id>", evidence_download, name="evidence"),
    path("certificates/", v.certificate_list, name="certificates"),
    path("certificates/<int:pk>/", v.certificate_detail, name="certificate"),
    # Before the actions' pattern, which would take "reissue" or "resubmit" for an action.
    path(
        "certificates/<int:pk>/reissue",
        v.certificate_reissue_view,
        name="certificate-reissue",
    ),
    path(
        "certificates/<int:pk>/resubmit",
        v.certificate_resubmit_view,
        name="certificate-resubmit",
    ),
    path(
        "certificates/<int:pk>/<slug:action>",
        v.certificate_action_view,
        name="certificate-action",
    ),
]
