"""The error codes of the webhooks.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

# Refusals of the lifecycle table (``lifecycle.py``).
WEBHOOK_SUBSCRIPTION_TRANSITION_NOT_ALLOWED = "webhook_subscription.transition_not_allowed"

# Only an administrator of a CB or an organization subscribes for that place.
WEBHOOK_NOT_ALLOWED = "webhook.not_allowed"
# The receiver's address: an absolute http(s) URL.
WEBHOOK_URL_INVALID = "webhook.url_invalid"
# The receiver's address is on a loopback, private or reserved network (refused unless the
# server is set to allow such receivers).
WEBHOOK_URL_PRIVATE = "webhook.url_private"
# At least one event, each one the subscription's owner may receive.
WEBHOOK_EVENTS_INVALID = "webhook.events_invalid"
# A filter names a CB, an organization or a process category that does not exist.
WEBHOOK_FILTER_INVALID = "webhook.filter_invalid"
# A public subscription's link names no subscription (mistyped, or the subscription deleted).
WEBHOOK_LINK_INVALID = "webhook.link_invalid"
# The address a public subscription's confirmation link is mailed to.
WEBHOOK_EMAIL_INVALID = "webhook.email_invalid"
