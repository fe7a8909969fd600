"""The error codes of decisions and certificates.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

CERTIFICATE_EMPTY_SCOPE = "certificate.empty_scope"
CERTIFICATE_NOTHING_CHANGED = "certificate.nothing_changed"
CERTIFICATE_NOT_CURRENT = "certificate.not_current"
CERTIFICATE_NOT_YET_EXPIRED = "certificate.not_yet_expired"
CERTIFICATE_SUSPENSION_EXCEEDED = "certificate.suspension_exceeded"
CERTIFICATE_RENEWAL_TOO_LATE = "certificate.renewal_too_late"
CERTIFICATE_SCOPE_LINE_EXISTS = "certificate.scope_line_exists"
CERTIFICATE_SCOPE_LINE_NOT_FOUND = "certificate.scope_line_not_found"
CERTIFICATE_SCOPE_LINE_WITHOUT_STANDARD = "certificate.scope_line_without_standard"
CERTIFICATE_SITE_ALREADY_ON_CERTIFICATE = "certificate.site_already_on_certificate"
CERTIFICATE_SITE_NOT_ON_CERTIFICATE = "certificate.site_not_on_certificate"
CERTIFICATE_SITE_NOT_OWN = "certificate.site_not_own"
CERTIFICATE_TRANSFER_NOT_CURRENT = "certificate.transfer_not_current"
CERTIFICATE_TRANSFER_SAME_CB = "certificate.transfer_same_cb"
CERTIFICATE_VALIDITY_ENDED = "certificate.validity_ended"
DECISION_ALREADY_GRANTED = "decision.already_granted"
DECISION_APPLICATION_NOT_ACCEPTED = "decision.application_not_accepted"
DECISION_ASSESSMENT_ALREADY_USED = "decision.assessment_already_used"
DECISION_BEFORE_REPORT = "decision.before_report"
DECISION_DATE_BEFORE_LAST_CHANGE = "decision.date_before_last_change"
DECISION_INITIAL_ASSESSMENT_EXPIRED = "decision.initial_assessment_expired"
DECISION_MAKER_ON_TEAM = "decision.maker_on_team"
DECISION_MINOR_WITHOUT_PLAN = "decision.minor_without_plan"
DECISION_OPEN_MAJOR = "decision.open_major"
DECISION_REPORT_NOT_ISSUED = "decision.report_not_issued"
DECISION_WRONG_ASSESSMENT = "decision.wrong_assessment"
PUBLICATION_NOT_PENDING = "publication.not_pending"
PUBLICATION_NOT_RETURNED = "publication.not_returned"

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
CERTIFICATE_TRANSITION_NOT_ALLOWED = "certificate.transition_not_allowed"
PUBLICATION_REVIEW_TRANSITION_NOT_ALLOWED = "publication_review.transition_not_allowed"
