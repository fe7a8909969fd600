"""A decision on a certificate, looked at before it is taken and taken exactly as seen.

A suspension, a withdrawal, a cancellation, a scope reduction or a re-issue is public the
moment it is written, and none of them can be undone. So the decision maker first sees what it
will do (:func:`certificate_change_preview`: the service itself runs, in a transaction that
is always rolled back, and the caller describes the certificate before and after), then
confirms (:func:`certificate_change_confirm`: the service runs again, and if what it does is
no longer what was seen, because the certificate or the holder's records changed in between,
nothing is written). The description is the caller's (the back office describes what the
public register will show); this module only compares its digests.

:func:`certificate_action_blockers` says, before any input, what stops a decision today: the
decision maker's role, the lifecycle table, and the rules that depend on the certificate
alone, each in the services' own words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from apcert.bodies.permissions import require_cb_role
from apcert.certificates.errors import (
    CERTIFICATE_CHANGED_SINCE_REVIEW,
    CERTIFICATE_EMPTY_SCOPE,
    CERTIFICATE_NOTHING_CHANGED,
)
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    certificate_last_issue,
    certificate_on,
    certificate_recorded_changes,
)
from apcert.certificates.services._common import _check_decision_date
from apcert.certificates.services.status import (
    _check_not_suspended_by_calendar,
    _check_restorable,
)
from apcert.certificates.services.transition import (
    certificate_lock,
    certificate_transition_check,
)
from apcert.core.errors import DomainError, RuleViolation

if TYPE_CHECKING:
    from apcert.accounts.models import User

#: One change of a certificate: a call of a certificate service on the (locked) certificate.
Change = Callable[[Certificate], Any]
#: What the caller shows of a certificate, as plain data (JSON with dates): read before and
#: after the change, inside its transaction.
Describe = Callable[[Certificate], dict[str, Any]]

#: The decisions taken on a certificate's own page, each with the action of the lifecycle
#: table it applies: a scope reduction, a site's removal and the re-issues for a recorded
#: change make a new issue and keep the status.
DECISION_ACTIONS: dict[str, str] = {
    "suspend": "suspend",
    "restore": "restore",
    "withdraw": "withdraw",
    "cancel": "cancel",
    "reduce_scope": "reissue",
    "site_remove": "reissue",
    "reissue": "reissue",
}


@dataclass(frozen=True)
class ChangePreview:
    """The caller's description of the certificate before and after a change, and their
    digest: what the decision maker confirms."""

    before: dict[str, Any]
    after: dict[str, Any]
    digest: str


class _Seen(Exception):
    """Carries the preview out of the transaction it rolls back."""

    def __init__(self, preview: ChangePreview) -> None:
        super().__init__("preview")
        self.preview = preview


def _digest(before: dict[str, Any], after: dict[str, Any]) -> str:
    text = json.dumps([before, after], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _run(certificate: Certificate, change: Change, describe: Describe) -> ChangePreview:
    cert = certificate_lock(certificate)
    before = describe(cert)
    change(cert)
    after = describe(cert)
    return ChangePreview(before, after, _digest(before, after))


def certificate_change_preview(
    *, certificate: Certificate, change: Change, describe: Describe
) -> ChangePreview:
    """What ``change`` would do to the certificate, as ``describe`` tells it, with nothing
    written: the change runs with every rule of its service, and its transaction (the
    decision, the issue, the status, the derived data, the audit event) is rolled back.
    A refusal is raised as the service raises it."""
    try:
        with transaction.atomic():
            raise _Seen(_run(certificate, change, describe))
    except _Seen as seen:
        return seen.preview


def certificate_change_confirm(
    *, certificate: Certificate, change: Change, describe: Describe, digest: str
) -> ChangePreview:
    """Make ``change``, provided it does what the decision maker saw in its preview (the
    ``digest`` of :func:`certificate_change_preview`). When the certificate or the records it
    is made from changed in between, so that the register would now show something else,
    the change is refused and nothing is written."""
    with transaction.atomic():
        done = _run(certificate, change, describe)
        if done.digest != digest:
            raise RuleViolation(
                f"{certificate.number} changed after you reviewed this decision, so the "
                "register would not show what you confirmed. Nothing was written: review "
                "the decision again.",
                code=CERTIFICATE_CHANGED_SINCE_REVIEW,
            )
    return done


def _reduction_problems(certificate: Certificate, action: str) -> list[DomainError]:
    issue = certificate_last_issue(certificate)
    lines = issue.scope_lines if issue is not None else []
    if action == "reduce_scope" and len(lines) <= 1:
        return [
            RuleViolation(
                f"{certificate.number} certifies one scope line, and a certificate keeps at "
                "least one: withdraw it instead, or extend its scope first.",
                code=CERTIFICATE_EMPTY_SCOPE,
            )
        ]
    if action == "site_remove" and len({line["site_id"] for line in lines}) <= 1:
        return [
            RuleViolation(
                f"{certificate.number} certifies one site, and a certificate keeps at least "
                "one scope line: withdraw it instead, or add a site first.",
                code=CERTIFICATE_EMPTY_SCOPE,
            )
        ]
    if action == "reissue" and not certificate_recorded_changes(certificate):
        number = issue.issue_number if issue is not None else 0
        return [
            RuleViolation(
                f"Issue {number} shows the holder's name, its sites and the declared "
                "editions as the records have them now: there is nothing to re-issue for. "
                "A re-issue is possible once the holder records a new name, or a certified "
                "site's new name or address, or once the catalogue supersedes a declared "
                "edition.",
                code=CERTIFICATE_NOTHING_CHANGED,
            )
        ]
    return []


def certificate_action_blockers(
    *, actor: User, certificate: Certificate, action: str, on: dt.date
) -> list[DomainError]:
    """Everything that stops ``actor`` taking the decision ``action`` (a key of
    :data:`DECISION_ACTIONS`) on the certificate on ``on``, before any input: the role (only
    a decision maker of the CB decides), the lifecycle table, then the rules that the
    certificate alone decides (its calendar, the maximum suspension, a scope that keeps one
    line, a re-issue with nothing to announce). Empty when the decision may be taken; the
    service still checks the decision's own input (its reason, its date, what it removes)."""
    blockers: list[DomainError] = []
    try:
        require_cb_role(actor, certificate.cb, "decision_maker")
    except DomainError as exc:
        blockers.append(exc)
    try:
        if action == "suspend":
            _check_not_suspended_by_calendar(certificate, on)
        # The status the calendar gave it (a missed surveillance window suspends it), which
        # the decision's service records first.
        certificate = certificate_on(certificate, on)
        certificate_transition_check(certificate, DECISION_ACTIONS[action])
    except DomainError as exc:
        return [*blockers, exc]
    checks: list[Callable[[], None]] = [lambda: _check_decision_date(certificate, on)]
    if action == "restore":
        checks.append(lambda: _check_restorable(certificate, on))
    for check in checks:
        try:
            check()
        except RuleViolation as exc:
            blockers.append(exc)
    return blockers + _reduction_problems(certificate, action)
