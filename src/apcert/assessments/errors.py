"""The error codes of assessments, findings, corrective actions and evidence.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

ASSESSMENT_APPLICATION_NOT_ACCEPTED = "assessment.application_not_accepted"
ASSESSMENT_CB_NOT_ALLOWED = "assessment.cb_not_allowed"
ASSESSMENT_DUPLICATE_MEMBER = "assessment.duplicate_member"
ASSESSMENT_LEAD_REQUIRED = "assessment.lead_required"
ASSESSMENT_NOT_IN_PROGRESS = "assessment.not_in_progress"
ASSESSMENT_NOTHING_CHANGED = "assessment.nothing_changed"
ASSESSMENT_REPORT_BEFORE_END = "assessment.report_before_end"
ASSESSMENT_REPORT_DECIDED_ON = "assessment.report_decided_on"
ASSESSMENT_REPORT_IN_FUTURE = "assessment.report_in_future"
ASSESSMENT_START_BEFORE_PLANNED = "assessment.start_before_planned"
ASSESSMENT_SUBJECT_REQUIRED = "assessment.subject_required"
ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED = "assessment.team_member_not_qualified"
CORRECTIVE_ACTION_SUPERSEDED = "corrective_action.superseded"
EVIDENCE_BAD_NAME = "evidence.bad_name"
EVIDENCE_CORRECTIVE_ACTION_CLOSED = "evidence.corrective_action_closed"
EVIDENCE_EMPTY = "evidence.empty"
EVIDENCE_NOT_FOUND = "evidence.not_found"
EVIDENCE_NO_ANSWER = "evidence.no_answer"
EVIDENCE_TYPE_REFUSED = "evidence.type_refused"
FINDING_CLOSED_BEFORE_RAISED = "finding.closed_before_raised"
FINDING_RAISED_IN_FUTURE = "finding.raised_in_future"
FINDING_RAISED_OUTSIDE_ASSESSMENT = "finding.raised_outside_assessment"
FINDING_STANDARD_NOT_DECLARED = "finding.standard_not_declared"
FINDING_STANDARD_REQUIRED = "finding.standard_required"

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
ASSESSMENT_TRANSITION_NOT_ALLOWED = "assessment.transition_not_allowed"
FINDING_TRANSITION_NOT_ALLOWED = "finding.transition_not_allowed"
CORRECTIVE_ACTION_TRANSITION_NOT_ALLOWED = "corrective_action.transition_not_allowed"
