"""The error codes of certification bodies and their acceptance.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

CB_ACCEPTANCE_EXISTS = "cb.acceptance_exists"
CB_CODE_TAKEN = "cb.code_taken"
CB_INVALID_CODE = "cb.invalid_code"
CB_STAFF_EXISTS = "cb.staff_exists"

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
CB_ACCEPTANCE_TRANSITION_NOT_ALLOWED = "cb_acceptance.transition_not_allowed"
