"""The error codes of accounts and invitations.

Every DomainError raised here carries one of these as its code.

Tests, the API and the forms key on the code, never on the message."""

ACCOUNT_USERNAME_TAKEN = "account.username_taken"
INVITATION_CB_ADMIN_REQUIRED = "invitation.cb_admin_required"
INVITATION_EXPIRED = "invitation.expired"
INVITATION_INVITER_NOT_ALLOWED = "invitation.inviter_not_allowed"
INVITATION_NOT_ALLOWED = "invitation.not_allowed"
INVITATION_NOT_FOUND = "invitation.not_found"
INVITATION_ONE_TARGET = "invitation.one_target"
INVITATION_ORGANIZATION_ADMIN_REQUIRED = "invitation.organization_admin_required"
INVITATION_TARGET_REQUIRED = "invitation.target_required"
INVITATION_USED = "invitation.used"
CALENDAR_FEED_NOT_ACTIVE = "calendar_feed.not_active"
CALENDAR_FEED_NOT_FOUND = "calendar_feed.not_found"
# The codes of API tokens (names the secret-word check takes for passwords: they are not).
API_TOKEN_ALREADY_REVOKED = "api_token.already_revoked"  # noqa: S105
API_TOKEN_EXPIRY_INVALID = "api_token.expiry_invalid"  # noqa: S105
API_TOKEN_INVALID = "api_token.invalid"  # noqa: S105
API_TOKEN_NAME_REQUIRED = "api_token.name_required"  # noqa: S105
API_TOKEN_NOT_ALLOWED = "api_token.not_allowed"  # noqa: S105
API_TOKEN_NOT_FOUND = "api_token.not_found"  # noqa: S105
API_TOKEN_SCOPE_INVALID = "api_token.scope_invalid"  # noqa: S105
API_TOKEN_WRITE_SCOPE_REQUIRED = "api_token.write_scope_required"  # noqa: S105
