"""The error codes of applications.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

APPLICATION_ALREADY_DECIDED = "application.already_decided"
APPLICATION_CB_NOT_ACCEPTED = "application.cb_not_accepted"
APPLICATION_COMPONENT_QUALIFICATION_IS_AC = "application.component_qualification_is_ac"
APPLICATION_DESIGN_NOT_CLAIMED = "application.design_not_claimed"
APPLICATION_DESIGN_SCOPE_MISSING = "application.design_scope_missing"
APPLICATION_DUPLICATE_SCOPE_LINE = "application.duplicate_scope_line"
APPLICATION_NOT_DRAFT = "application.not_draft"
APPLICATION_NO_PROGRAMME = "application.no_programme"
APPLICATION_NO_SCOPE = "application.no_scope"
APPLICATION_PROGRAMME_SCHEME_MISMATCH = "application.programme_scheme_mismatch"
APPLICATION_SCHEME_NOT_SUPPORTED = "application.scheme_not_supported"
APPLICATION_SCOPE_LINE_WITHOUT_STANDARD = "application.scope_line_without_standard"
APPLICATION_SCOPE_OUTSIDE_ACCEPTANCE = "application.scope_outside_acceptance"
APPLICATION_SITE_NOT_OWN = "application.site_not_own"
DECISION_CB_NOT_ACCEPTED = "decision.cb_not_accepted"
DECISION_SCOPE_OUTSIDE_ACCEPTANCE = "decision.scope_outside_acceptance"

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
APPLICATION_TRANSITION_NOT_ALLOWED = "application.transition_not_allowed"

#: The codes of ``selectors.acceptance_problems`` by the step that asks (its ``code_prefix``).
CB_NOT_ACCEPTED = {"application": APPLICATION_CB_NOT_ACCEPTED, "decision": DECISION_CB_NOT_ACCEPTED}
SCOPE_OUTSIDE_ACCEPTANCE = {
    "application": APPLICATION_SCOPE_OUTSIDE_ACCEPTANCE,
    "decision": DECISION_SCOPE_OUTSIDE_ACCEPTANCE,
}
