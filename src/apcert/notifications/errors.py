"""The error codes of notifications.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
NOTIFICATION_TRANSITION_NOT_ALLOWED = "notification.transition_not_allowed"
