"""An application has one initial assessment.

A second is refused while the first (not cancelled) still counts, and any once the
application has had its certification decision. The scheme's one exception: an initial
assessment whose majors were not verified within its months must be repeated, so it no
longer counts after that limit. Each refusal checks its code and that nothing was written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from apcert.applications.models import Application
from apcert.assessments.models import Assessment, TeamMember
from apcert.assessments.services import (
    assessment_cancel,
    assessment_plan,
    initial_assessment_void_on,
)
from apcert.audit.models import AuditEvent
from apcert.certificates.services import certificate_grant, certificate_refuse
from apcert.core.dates import add_months
from apcert.core.errors import DomainError
from apcert.schemes.selectors import scheme_rules
from tests.factories import DAY0, World

pytestmark = pytest.mark.django_db

DAYS = dt.timedelta(days=1)


def _plan(world: World, app: Application, start: dt.date) -> Assessment:
    t = world.team
    return assessment_plan(
        actor=t.manager,
        kind="initial",
        application=app,
        start_date=start,
        end_date=start + DAYS,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )


def _refused(call: Callable[[], Any], code: str, app: Application) -> DomainError:
    assessments = list(Assessment.objects.filter(application=app).values("pk", "status"))
    counts = (TeamMember.objects.count(), AuditEvent.objects.count())
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert list(Assessment.objects.filter(application=app).values("pk", "status")) == assessments
    assert (TeamMember.objects.count(), AuditEvent.objects.count()) == counts
    return exc.value


def _limit(world: World, a: Assessment) -> dt.date:
    return add_months(a.end_date, scheme_rules(world.scheme).initial_major_verification_months)


@pytest.mark.parametrize("status", ["planned", "in_progress", "report_issued"])
def test_a_second_initial_assessment_is_refused_while_the_first_counts(
    world: World, status: str
) -> None:
    # Given an accepted application and its initial assessment, in each status it can be
    app = world.accepted_application()
    if status == "planned":
        first = _plan(world, app, DAY0 + 30 * DAYS)
    else:
        first = world.assessment(app, report=status == "report_issued")

    # When the CB plans another, then it is refused, naming the first
    err = _refused(
        lambda: _plan(world, app, DAY0 + 60 * DAYS), "assessment.initial_already_planned", app
    )
    assert err.params == {"assessment": first.pk}


def test_once_the_first_is_cancelled_another_is_planned(world: World) -> None:
    app = world.accepted_application()
    first = _plan(world, app, DAY0 + 30 * DAYS)
    assessment_cancel(actor=world.team.manager, assessment=first, reason="Plant closed")

    second = _plan(world, app, DAY0 + 60 * DAYS)

    assert second.status == "planned"
    assert list(Assessment.objects.filter(application=app).order_by("id")) == [first, second]


@pytest.mark.parametrize("decision", ["grant", "refuse"])
def test_after_the_decision_no_initial_assessment_is_planned(world: World, decision: str) -> None:
    # Given the application decided on its initial assessment
    app = world.accepted_application()
    a = world.assessment(app)
    decide: Any = certificate_grant if decision == "grant" else certificate_refuse
    extra = {} if decision == "grant" else {"rationale": "The scope is not covered."}
    decide(
        actor=world.team.decision_maker,
        application=app,
        assessment=a,
        decided_on=a.end_date + 40 * DAYS,
        **extra,
    )

    # When the CB plans another initial assessment, then it is refused, even long after
    _refused(
        lambda: _plan(world, app, a.end_date + 400 * DAYS), "assessment.application_decided", app
    )


def test_an_initial_assessment_whose_majors_were_not_verified_in_time_is_repeated(
    world: World,
) -> None:
    # Given an initial assessment whose major is still open
    app = world.accepted_application()
    first = world.assessment(app, findings=("major",))
    limit = _limit(world, first)

    # Then up to its limit it still counts, and a second is refused
    assert not initial_assessment_void_on(first, limit)
    _refused(lambda: _plan(world, app, limit), "assessment.initial_already_planned", app)

    # And from the day after, it must be repeated: a second is planned
    assert initial_assessment_void_on(first, limit + DAYS)
    second = _plan(world, app, limit + DAYS)
    assert second.kind == "initial"


def test_an_initial_assessment_whose_majors_were_verified_in_time_counts_for_good(
    world: World,
) -> None:
    app = world.accepted_application()
    first = world.assessment(app, findings=("major", "minor"))
    world.resolve_findings(first)
    later = _limit(world, first) + 100 * DAYS

    assert not initial_assessment_void_on(first, later)
    _refused(lambda: _plan(world, app, later), "assessment.initial_already_planned", app)
