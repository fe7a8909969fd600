"""The error codes of organizations, their sites and members.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

ORGANIZATION_DUPLICATE_REGISTRATION = "organization.duplicate_registration"
ORGANIZATION_MEMBER_EXISTS = "organization.member_exists"
SITE_DUPLICATE_NAME = "site.duplicate_name"
SITE_NOTHING_CHANGED = "site.nothing_changed"
