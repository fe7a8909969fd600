"""Refusals whose codes no other test asserted: each is brought about through the services,
and each checks the code and that nothing was written (no audit event, no row)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from apcert.applications.services import application_submit, scope_line_add
from apcert.assessments.models import Assessment, CorrectiveAction
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_reschedule,
    assessment_start,
    corrective_action_review,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.bodies.services import cb_acceptance_grant, cb_create, cb_staff_add
from apcert.core.errors import DomainError
from apcert.organizations.models import Organization, OrganizationMember, Site
from apcert.organizations.services import (
    organization_create,
    organization_member_add,
    site_create,
)
from apcert.schemes.models import ProcessCategory, Scheme
from apcert.schemes.selectors import scheme_get, scheme_rules
from tests.factories import DAY0, World, make_user

DAYS = dt.timedelta(days=1)


def _refused(call: Callable[[], Any], code: str, *models: type) -> DomainError:
    counts = [AuditEvent, *models]
    before = [m.objects.count() for m in counts]  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code
    assert [m.objects.count() for m in counts] == before  # type: ignore[attr-defined]
    return exc.value


# --- certification bodies -------------------------------------------------------------------


def test_a_cb_code_must_be_letters_or_digits(world: World) -> None:
    _refused(
        lambda: cb_create(actor=world.secretariat, code="a-b!", name="Odd", country="DE"),
        "cb.invalid_code",
        CertificationBody,
    )


def test_a_cb_code_is_given_once(world: World) -> None:
    _refused(
        lambda: cb_create(
            actor=world.secretariat, code=world.team.cb.code, name="Twin", country="DE"
        ),
        "cb.code_taken",
        CertificationBody,
    )


def test_a_cb_country_is_an_iso_code(world: World) -> None:
    _refused(
        lambda: cb_create(actor=world.secretariat, code="CTRY1", name="Land", country="Germany"),
        "invalid.country",
        CertificationBody,
    )


def test_a_cb_has_one_acceptance_per_programme(world: World) -> None:
    _refused(
        lambda: cb_acceptance_grant(
            actor=world.secretariat,
            cb=world.team.cb,
            programme=world.programme,
            accepted_on=DAY0,
        ),
        "cb.acceptance_exists",
        CBAcceptance,
    )


def test_an_acceptance_does_not_end_before_it_starts(world: World) -> None:
    cb = cb_create(actor=world.secretariat, code="DATE2", name="Dates", country="FR")
    _refused(
        lambda: cb_acceptance_grant(
            actor=world.secretariat,
            cb=cb,
            programme=world.programme,
            accepted_on=DAY0,
            valid_until=DAY0 - DAYS,
        ),
        "invalid.date_order",
        CBAcceptance,
    )


def test_a_role_held_is_not_given_again(world: World) -> None:
    t = world.team
    _refused(
        lambda: cb_staff_add(
            actor=world.secretariat, cb=t.cb, user=t.decision_maker, role="decision_maker"
        ),
        "cb.staff_exists",
        CBStaff,
    )


# --- organizations --------------------------------------------------------------------------


def test_a_registration_number_is_registered_once_per_country(world: World) -> None:
    _refused(
        lambda: organization_create(
            actor=make_user("twin"),
            legal_name="Twin Works",
            country=world.org.country,
            registration_number=world.org.registration_number,
        ),
        "organization.duplicate_registration",
        Organization,
    )


def test_a_site_name_is_used_once_per_organization(world: World) -> None:
    _refused(
        lambda: site_create(
            actor=world.org_user,
            organization=world.org,
            name=world.site.name,
            city="Chemnitz",
            country="DE",
        ),
        "site.duplicate_name",
        Site,
    )


def test_a_member_is_added_once(world: World) -> None:
    _refused(
        lambda: organization_member_add(
            actor=world.secretariat, organization=world.org, user=world.org_user
        ),
        "organization.member_exists",
        OrganizationMember,
    )


# --- applications ---------------------------------------------------------------------------


def _line(world: World, app: Any, site: Site, category: str = "EPL") -> Callable[[], Any]:
    return lambda: scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code=category),
        site=site,
        wording="Electroplating at the plant",
        standards=["ISO 9001:2015"],
    )


def test_a_scope_line_is_at_a_site_of_the_applicant(world: World) -> None:
    other_user = make_user("other")
    other = organization_create(actor=other_user, legal_name="Other Works", country="FR")
    site = site_create(actor=other_user, organization=other, name="Far", city="Lyon", country="FR")
    app = world.draft_application()
    _refused(_line(world, app, site), "application.site_not_own")


def test_a_scope_line_is_declared_once(world: World) -> None:
    app = world.draft_application(category="EPL")
    _refused(_line(world, app, world.site, "EPL"), "application.duplicate_scope_line")


def test_the_scope_of_a_submitted_application_is_kept(world: World) -> None:
    app = world.draft_application()
    application_submit(actor=world.org_user, application=app, on=DAY0)
    _refused(_line(world, app, world.site2), "application.not_draft")


# --- assessments ----------------------------------------------------------------------------


def _planned(world: World) -> Assessment:
    t = world.team
    app = world.accepted_application()
    return assessment_plan(
        actor=t.manager,
        kind="initial",
        application=app,
        start_date=DAY0 + 10 * DAYS,
        end_date=DAY0 + 12 * DAYS,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )


def test_an_initial_assessment_is_of_an_application(world: World) -> None:
    t = world.team
    _refused(
        lambda: assessment_plan(
            actor=t.manager,
            kind="initial",
            start_date=DAY0,
            end_date=DAY0 + DAYS,
            team=[(t.lead, "lead")],
        ),
        "assessment.subject_required",
        Assessment,
    )


def test_a_person_is_on_the_team_once(world: World) -> None:
    t = world.team
    app = world.accepted_application()
    _refused(
        lambda: assessment_plan(
            actor=t.manager,
            kind="initial",
            application=app,
            start_date=DAY0,
            end_date=DAY0 + DAYS,
            team=[(t.lead, "lead"), (t.lead, "member")],
        ),
        "assessment.duplicate_member",
        Assessment,
    )


def test_an_assessment_lasts_at_most_31_days(world: World) -> None:
    t = world.team
    app = world.accepted_application()
    err = _refused(
        lambda: assessment_plan(
            actor=t.manager,
            kind="initial",
            application=app,
            start_date=DAY0,
            end_date=DAY0 + 31 * DAYS,
            team=[(t.lead, "lead")],
        ),
        "assessment.too_long",
        Assessment,
    )
    assert err.field == "end_date" and "is 32" in str(err)
    # 31 days, the first and last included, are planned
    a = assessment_plan(
        actor=t.manager,
        kind="initial",
        application=app,
        start_date=DAY0,
        end_date=DAY0 + 30 * DAYS,
        team=[(t.lead, "lead")],
    )
    # and a planned one is not moved to last longer
    _refused(
        lambda: assessment_reschedule(
            actor=t.manager,
            assessment=a,
            start_date=DAY0,
            end_date=DAY0 + 40 * DAYS,
            reason="Longer audit",
        ),
        "assessment.too_long",
    )
    assert Assessment.objects.get(pk=a.pk).end_date == DAY0 + 30 * DAYS


def test_only_the_lead_starts_the_assessment(world: World) -> None:
    a = _planned(world)
    _refused(
        lambda: assessment_start(actor=world.team.assessor, assessment=a),
        "permission.team_member_required",
    )
    assert Assessment.objects.get(pk=a.pk).status == "planned"


def test_the_report_follows_the_last_day(world: World) -> None:
    a = _planned(world)
    assessment_start(actor=world.team.lead, assessment=a)
    _refused(
        lambda: assessment_issue_report(
            actor=world.team.lead, assessment=a, issued_on=a.end_date - DAYS
        ),
        "assessment.report_before_end",
    )
    assert Assessment.objects.get(pk=a.pk).status == "in_progress"


def test_a_finding_against_a_standard_names_it(world: World) -> None:
    a = _planned(world)
    assessment_start(actor=world.team.lead, assessment=a)
    _refused(
        lambda: finding_record(
            actor=world.team.lead,
            assessment=a,
            grade="minor",
            requirement_kind="standard",
            requirement_ref="4.2",
            description="Records incomplete",
        ),
        "finding.standard_required",
    )


def test_only_the_latest_answer_is_reviewed(world: World) -> None:
    app = world.accepted_application()
    a = world.assessment(app, findings=("minor",))
    f = a.findings.get()
    first = world.answer(f)
    world.review(first, "reject")
    world.answer(f)
    before = list(CorrectiveAction.objects.order_by("id").values_list("pk", "status"))
    _refused(
        lambda: corrective_action_review(
            actor=world.team.lead,
            corrective_action=first,
            outcome="verify",
            reviewed_on=f.raised_on + 40 * DAYS,
        ),
        "corrective_action.superseded",
        CorrectiveAction,
    )
    assert list(CorrectiveAction.objects.order_by("id").values_list("pk", "status")) == before


# --- reference data -------------------------------------------------------------------------


def test_an_unknown_scheme_is_not_found(world: World) -> None:
    with pytest.raises(DomainError) as exc:
        scheme_get("NOPE")
    assert exc.value.code == "scheme.unknown"


def test_a_scheme_without_rules_cannot_be_certified_under(world: World) -> None:
    scheme = Scheme.objects.create(code="ZZ", name="No rules yet")
    with pytest.raises(DomainError) as exc:
        scheme_rules(scheme)
    assert exc.value.code == "scheme.rules_missing"
