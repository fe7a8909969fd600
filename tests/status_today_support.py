"""Certificates in each status on a chosen day, recorded or only by the calendar: the cases
the verification page, the certificate PDF and the back office must all tell alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apcert.assessments.services import assessment_issue_report, assessment_plan, assessment_start
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_cancel,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.dates import add_months
from apcert.cycle.sweep import cycle_sweep
from apcert.register.templatetags.register_tags import plain_day
from tests.factories import World, on_day

DAY = dt.timedelta(days=1)

#: Every case: recorded by a decision or the sweep, or by the calendar alone (the sweep never
#: ran for it).
CASES = (
    "current",
    "suspended",
    "withdrawn",
    "cancelled",
    "expired",
    "expired_unrecorded",
    "suspended_unrecorded",
    "withdrawn_unrecorded",
)


@dataclass(frozen=True)
class Case:
    cert: Certificate
    #: The day the case is read on (the clock is frozen there).
    today: dt.date
    #: The status today, and the headline of the verification page.
    state: str
    headline: str
    #: The mark across the PDF ("" when current).
    mark: str
    #: Whether the stored status is behind the calendar.
    unrecorded: bool = False


def surveillance(world: World, cert: Certificate, report_on: dt.date) -> None:
    """A surveillance carried out, its report issued on ``report_on``."""
    t = world.team
    a = assessment_plan(
        actor=t.manager,
        kind="surveillance",
        certificate=cert,
        start_date=report_on - 4 * DAY,
        end_date=report_on - 3 * DAY,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(a.start_date):
        assessment_start(actor=t.lead, assessment=a)
    with on_day(report_on):
        assessment_issue_report(actor=t.lead, assessment=a, issued_on=report_on)


def fresh(cert: Certificate) -> Certificate:
    return Certificate.objects.select_related("cb", "scheme", "organization").get(pk=cert.pk)


def build(world: World, name: str) -> Case:
    """The certificate of case ``name``, made through the services."""
    dm = world.team.decision_maker
    cert = world.granted()
    on = cert.initial_decision_on + 30 * DAY
    if name == "current":
        return Case(fresh(cert), on, "current", "Valid and current", "")
    if name == "suspended":
        certificate_suspend(actor=dm, certificate=cert, reason_category="complaint",
                            reason="private words", decided_on=on)  # fmt: skip
        return Case(
            fresh(cert), on + 5 * DAY, "suspended",
            f"Valid but suspended since {plain_day(on)} (complaint)",
            f"SUSPENDED since {plain_day(on)}: not valid",
        )  # fmt: skip
    if name == "withdrawn":
        certificate_withdraw(actor=dm, certificate=cert, reason_category="misuse",
                             reason="private words", decided_on=on)  # fmt: skip
        return Case(
            fresh(cert), on + 5 * DAY, "withdrawn",
            f"Withdrawn on {plain_day(on)} (misuse of the certificate or mark)",
            f"WITHDRAWN on {plain_day(on)}: not valid",
        )  # fmt: skip
    if name == "cancelled":
        certificate_cancel(actor=dm, certificate=cert, reason="Plant closed", decided_on=on)
        return Case(
            fresh(cert), on + 5 * DAY, "cancelled",
            f"Cancelled on {plain_day(on)} (at the holder's request)",
            f"CANCELLED on {plain_day(on)}: not valid",
        )  # fmt: skip
    if name in ("expired", "expired_unrecorded"):
        # Both surveillances carried out: only the end of its validity ends it.
        surveillance(world, cert, cert.initial_decision_on + 360 * DAY)
        surveillance(world, cert, cert.initial_decision_on + 720 * DAY)
        cert = fresh(cert)
        ended = cert.expires_on + DAY
        if name == "expired":
            assert cycle_sweep(as_of=ended).expired == [cert.number]
        return Case(
            fresh(cert), ended + 9 * DAY, "expired", f"Expired on {plain_day(ended)}",
            f"EXPIRED on {plain_day(ended)}: not valid", unrecorded=name != "expired",
        )  # fmt: skip
    # No surveillance ever: the window closes, then the maximum suspension runs out.
    cert = fresh(cert)
    assert cert.surveillance_due_by is not None
    suspended_on = cert.surveillance_due_by + DAY
    if name == "suspended_unrecorded":
        return Case(
            fresh(cert), suspended_on + 3 * DAY, "suspended",
            f"Valid but suspended since {plain_day(suspended_on)} "
            "(surveillance not carried out in time)",
            f"SUSPENDED since {plain_day(suspended_on)}: not valid", unrecorded=True,
        )  # fmt: skip
    assert name == "withdrawn_unrecorded"
    # The scheme's maximum suspension: 6 months (the shipped default).
    withdrawn_on = add_months(suspended_on, 6)
    return Case(
        fresh(cert), withdrawn_on + 2 * DAY, "withdrawn",
        f"Withdrawn on {plain_day(withdrawn_on)} (suspended longer than allowed)",
        f"WITHDRAWN on {plain_day(withdrawn_on)}: not valid", unrecorded=True,
    )  # fmt: skip
