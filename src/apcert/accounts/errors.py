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
