"""Domain errors: every rule a service enforces fails with one of these.

Each error carries a stable ``code`` (tests, the API and forms key on it, never on the
message), a message written for a CB user, and optional ``params`` and ``field``. The API
and web layers map codes to HTTP problems and form errors in one place each.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request that the scheme's rules, or the actor's rights, do not allow."""

    code: str = "domain_error"
    http_status: int = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.params = dict(params or {})

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "field": self.field, **self.params}


class ValidationFailed(DomainError):
    """Input that is malformed or incomplete."""

    code = "invalid"
    http_status = 400


class RuleViolation(DomainError):
    """A rule of the scheme (IECQ 03-1, 03-2 or the CB's parameters) refuses the request."""

    code = "rule_violation"
    http_status = 409


class TransitionNotAllowed(DomainError):
    """The object's current status does not allow this action."""

    code = "transition_not_allowed"
    http_status = 409


class PermissionDenied(DomainError):
    """The actor's role does not allow this action on this object."""

    code = "permission_denied"
    http_status = 403


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    http_status = 404


# --- the codes shared by every app: malformed input and missing rights ---------------------

INVALID = "invalid"
INVALID_ACTION = "invalid.action"
INVALID_CHOICE = "invalid.choice"
INVALID_COUNTRY = "invalid.country"
INVALID_DATE = "invalid.date"
INVALID_DATETIME = "invalid.datetime"
INVALID_DATE_ORDER = "invalid.date_order"
INVALID_EMAIL = "invalid.email"
INVALID_PASSWORD = "invalid.password"  # noqa: S105 - an error code, not a password
INVALID_REASON_CATEGORY = "invalid.reason_category"
INVALID_REASON_REQUIRED = "invalid.reason_required"
INVALID_REQUIRED = "invalid.required"
INVALID_TOO_LONG = "invalid.too_long"
INVALID_USERNAME = "invalid.username"
PERMISSION_ASSESSOR_REQUIRED = "permission.assessor_required"
PERMISSION_CB_ROLE_REQUIRED = "permission.cb_role_required"
PERMISSION_CB_STAFF_REQUIRED = "permission.cb_staff_required"
PERMISSION_NOT_SIGNED_IN = "permission.not_signed_in"
PERMISSION_ORGANIZATION_MEMBER_REQUIRED = "permission.organization_member_required"
PERMISSION_SECRETARIAT_REQUIRED = "permission.secretariat_required"
PERMISSION_TEAM_MEMBER_REQUIRED = "permission.team_member_required"
