"""The certification body's back-office pages, under /office/cb/ (namespace ``web:cb``)."""

from django.urls import path

from apcert.assessments.views_evidence import evidence_download
from apcert.web.sections.cb.views import (
    applications,
    assessments,
    calendar,
    certificates,
    decisions,
    history,
    lists,
    reports,
    visits,
)

app_name = "cb"

urlpatterns = [
    path("applications/", lists.application_list, name="applications"),
    path("applications/<int:pk>/", applications.application_detail, name="application"),
    path(
        "applications/<int:pk>/history",
        history.application_history_view,
        name="application-history",
    ),
    path(
        "applications/<int:pk>/accept",
        applications.application_accept_view,
        name="application-accept",
    ),
    path(
        "applications/<int:pk>/reject",
        applications.application_reject_view,
        name="application-reject",
    ),
    path("applications/<int:pk>/plan", applications.assessment_plan_view, name="assessment-plan"),
    path("assessments/", lists.assessment_list, name="assessments"),
    path("assessments/<int:pk>/", assessments.assessment_detail, name="assessment"),
    path(
        "assessments/<int:pk>/history",
        history.assessment_history_view,
        name="assessment-history",
    ),
    path("assessments/<int:pk>/start", assessments.assessment_start_view, name="assessment-start"),
    path("assessments/<int:pk>/findings", assessments.finding_record_view, name="finding-record"),
    path(
        "assessments/<int:pk>/findings/<int:finding_id>/edit",
        assessments.finding_edit_view,
        name="finding-edit",
    ),
    path(
        "assessments/<int:pk>/report", assessments.assessment_report_view, name="assessment-report"
    ),
    path(
        "assessments/<int:pk>/report.html",
        reports.assessment_report_page,
        name="assessment-report-html",
    ),
    path(
        "assessments/<int:pk>/report.pdf",
        reports.assessment_report_pdf,
        name="assessment-report-pdf",
    ),
    path(
        "assessments/<int:pk>/dates",
        assessments.assessment_reschedule_view,
        name="assessment-reschedule",
    ),
    path(
        "assessments/<int:pk>/report/correct",
        assessments.assessment_report_correct_view,
        name="assessment-report-correct",
    ),
    path("assessments/<int:pk>/decision", decisions.decision_view, name="decision"),
    path(
        "assessments/<int:pk>/decision/defer",
        decisions.decision_defer_view,
        name="decision-defer",
    ),
    path(
        "corrective-actions/<int:pk>/review",
        assessments.corrective_action_review_view,
        name="corrective-action-review",
    ),
    path("evidence/<int:evidence_id>", evidence_download, name="evidence"),
    path("calendar/", calendar.calendar_month, name="calendar"),
    path("calendar/feed", calendar.calendar_feed, name="calendar-feed"),
    path("calendar/feed/new", calendar.calendar_feed_new, name="calendar-feed-new"),
    path("calendar/feed/stop", calendar.calendar_feed_stop, name="calendar-feed-stop"),
    path("certificates/", lists.certificate_list, name="certificates"),
    path("certificates/<int:pk>/", certificates.certificate_detail, name="certificate"),
    path(
        "certificates/<int:pk>/history",
        history.certificate_history_view,
        name="certificate-history",
    ),
    path(
        "certificates/<int:pk>/plan/<slug:kind>",
        visits.certificate_plan_view,
        name="certificate-plan",
    ),
    path("transfers/take-over", visits.transfer_in_view, name="transfer-in"),
    # Before the decisions' pattern, which would take "resubmit" for a decision.
    path(
        "certificates/<int:pk>/resubmit",
        certificates.certificate_resubmit_view,
        name="certificate-resubmit",
    ),
    path(
        "certificates/<int:pk>/record-calendar",
        certificates.certificate_record_calendar_view,
        name="certificate-record-calendar",
    ),
    # A decision on a certificate: its form and what the public will see (GET, POST), then
    # the decision confirmed (POST).
    path(
        "certificates/<int:pk>/<slug:action>",
        certificates.certificate_decision_view,
        name="certificate-action",
    ),
    path(
        "certificates/<int:pk>/<slug:action>/confirm",
        certificates.certificate_confirm_view,
        name="certificate-action-confirm",
    ),
]
