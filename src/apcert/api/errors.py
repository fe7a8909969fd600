"""The error codes of the JSON API.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

BODY_NOT_FOUND = "body.not_found"
ORGANIZATION_NOT_FOUND = "organization.not_found"
APPLICATION_NOT_FOUND = "application.not_found"
IDEMPOTENCY_KEY_INVALID = "idempotency.key_invalid"
IDEMPOTENCY_KEY_REUSED = "idempotency.key_reused"
CERTIFICATE_NOT_FOUND = "certificate.not_found"
ASSESSMENT_NOT_FOUND = "assessment.not_found"
FINDING_NOT_FOUND = "finding.not_found"
CORRECTIVE_ACTION_NOT_FOUND = "corrective_action.not_found"
#: A team member named in an assessment plan who is not active staff of the CB.
TEAM_MEMBER_UNKNOWN = "assessment.team_member_unknown"
#: A site named in a decision that is not one of the holder's sites.
SITE_NOT_FOUND = "site.not_found"
#: A decision the assessment's kind does not support.
DECISION_NOT_OFFERED = "decision.not_offered"
#: A change of a certificate sent without ``If-Match`` (428).
IF_MATCH_REQUIRED = "precondition.if_match_required"
#: A change of a certificate whose ``If-Match`` is not its current ETag (412).
IF_MATCH_FAILED = "precondition.if_match_failed"
#: A re-issue for a change the holder's records do not show (or no longer show).
RECORDED_CHANGE_NOT_FOUND = "recorded_change.not_found"
