"""The refusals the account pages share: the invitation pages, and their chooser's endpoint,
are for those who may invite somewhere; the API token pages for those who may issue a token
somewhere or see one."""

from __future__ import annotations

from apcert.accounts.errors import API_TOKEN_NOT_ALLOWED, INVITATION_NOT_ALLOWED
from apcert.core.errors import PermissionDenied
from apcert.webhooks.errors import WEBHOOK_NOT_ALLOWED

NO_RIGHT_TO_INVITE = PermissionDenied(
    "Only the Secretariat, or an administrator of a certification body or of an "
    "organization, may invite colleagues. Ask one of them to invite the person.",
    code=INVITATION_NOT_ALLOWED,
)

NO_RIGHT_TO_API_TOKENS = PermissionDenied(
    "Only the Secretariat, or an administrator of a certification body or of an "
    "organization, may issue API tokens for it. Ask one of them for a token.",
    code=API_TOKEN_NOT_ALLOWED,
)

NO_RIGHT_TO_WEBHOOKS = PermissionDenied(
    "Only an administrator of a certification body or of an organization may subscribe "
    "webhooks for it. Ask one of them.",
    code=WEBHOOK_NOT_ALLOWED,
)
