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
