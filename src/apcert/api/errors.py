"""The error codes of the JSON API.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

BODY_NOT_FOUND = "body.not_found"
ORGANIZATION_NOT_FOUND = "organization.not_found"
APPLICATION_NOT_FOUND = "application.not_found"
IDEMPOTENCY_KEY_INVALID = "idempotency.key_invalid"
IDEMPOTENCY_KEY_REUSED = "idempotency.key_reused"
