"""The error codes of notifications.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

# Refusals of the lifecycle tables (``lifecycle.py``): ``<entity>.transition_not_allowed``.
NOTIFICATION_TRANSITION_NOT_ALLOWED = "notification.transition_not_allowed"
MESSAGE_MAIL_TRANSITION_NOT_ALLOWED = "message_mail.transition_not_allowed"

# A person reads and marks only the messages addressed to them.
MESSAGE_NOT_OWN = "message.not_own"
# A preference names one of the groups of e-mails, and says on or off.
PREFERENCE_GROUP_UNKNOWN = "preference.group_unknown"
