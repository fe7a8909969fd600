"""Rules of application submission.

Each test breaks one rule and checks the stable error code, then that nothing was written:
no new row in the application tables, no new audit event, and the application, read again
from the database, still in the status it had.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from apcert.accounts.models import User
from apcert.applications.errors import (
    APPLICATION_NO_PROGRAMME,
    APPLICATION_PROGRAMME_SCHEME_MISMATCH,
    APPLICATION_SCHEME_NOT_SUPPORTED,
)
from apcert.applications.models import Application, ScopeLine
from apcert.applications.services import (
    application_create,
    application_submit,
    application_withdraw,
    scope_line_add,
)
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_grant, cb_acceptance_transition, cb_create
from apcert.core.errors import DomainError, PermissionDenied, RuleViolation, TransitionNotAllowed
from apcert.schemes.models import ProcessCategory, Programme, Scheme, Standard
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

_cb_codes = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    """Rows in every table that submitting or adding a scope line could write."""
    return {
        "application": Application.objects.count(),
        "scope_line": ScopeLine.objects.count(),
        "scope_line_standard": ScopeLine.standards.through.objects.count(),
        "audit_event": AuditEvent.objects.count(),
    }


def _submit(world: World, app: Application, *, actor: User | None = None) -> Application:
    return application_submit(actor=actor or world.org_user, application=app, on=DAY0)


def _refused_submission(
    world: World, app: Application, *, actor: User | None = None
) -> DomainError:
    """Submit, expecting a refusal; check that nothing was written and return the error."""
    before = _counts()
    status_before = Application.objects.get(pk=app.pk).status
    with pytest.raises(DomainError) as exc:
        _submit(world, app, actor=actor)
    assert _counts() == before
    fresh = Application.objects.get(pk=app.pk)
    assert fresh.status == status_before
    if status_before == "draft":
        assert fresh.submitted_at is None
    return exc.value


def _new_cb_code() -> str:
    return f"RA{next(_cb_codes)}"


# --- the CB's acceptance --------------------------------------------------------------------


def test_given_cb_without_acceptance_for_programme_when_submitted_then_cb_not_accepted(
    world: World,
) -> None:
    # Given: the world CB is accepted for AP, AP-ESD and AP-CAP, but not for AP-ECMP
    assert Programme.objects.get(code="AP-ECMP").scheme_id == world.scheme.pk
    assert not CBAcceptance.objects.filter(cb=world.team.cb, programme__code="AP-ECMP").exists()
    app = world.draft_application(programmes=("AP", "AP-ECMP"))

    # When
    err = _refused_submission(world, app)

    # Then: only the programme the CB lacks is named
    assert isinstance(err, RuleViolation)
    assert err.code == "application.cb_not_accepted"
    assert err.params == {"programme": "AP-ECMP", "also": []}
    assert "AP-ECMP" in err.message


@pytest.mark.parametrize(
    ("accepted_on", "valid_until"),
    [
        pytest.param(dt.date(2020, 1, 1), DAY0 - dt.timedelta(days=1), id="expired-day-before"),
        pytest.param(DAY0 + dt.timedelta(days=1), None, id="starts-day-after"),
    ],
)
def test_given_cb_acceptance_not_current_on_submission_day_when_submitted_then_cb_not_accepted(
    world: World, accepted_on: dt.date, valid_until: dt.date | None
) -> None:
    # Given: a CB whose only AP acceptance does not cover the submission day
    cb = cb_create(actor=world.secretariat, code=_new_cb_code(), name="Lapsed CB", country="FR")
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=cb,
        programme=world.programme,
        accepted_on=accepted_on,
        valid_until=valid_until,
    )
    app = world.draft_application(cb=cb)

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.cb_not_accepted"
    assert err.params == {"programme": "AP", "also": []}


def test_given_cb_acceptance_valid_until_the_submission_day_when_submitted_then_accepted(
    world: World,
) -> None:
    # Given: the acceptance's last day is the submission day (inclusive)
    cb = cb_create(actor=world.secretariat, code=_new_cb_code(), name="Last Day CB", country="FR")
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=cb,
        programme=world.programme,
        accepted_on=dt.date(2020, 1, 1),
        valid_until=DAY0,
    )
    app = world.draft_application(cb=cb)

    # When
    submitted = _submit(world, app)

    # Then
    assert Application.objects.get(pk=submitted.pk).status == "submitted"


#: The acceptance action that leads to each status.
ACTION_TO = {"suspended": "suspend", "withdrawn": "withdraw"}


@pytest.mark.parametrize("status", ["suspended", "withdrawn"])
def test_given_cb_acceptance_suspended_or_withdrawn_when_submitted_then_cb_not_accepted(
    world: World, status: str
) -> None:
    # Given
    acceptance = CBAcceptance.objects.get(cb=world.team.cb, programme=world.programme)
    cb_acceptance_transition(
        actor=world.secretariat,
        acceptance=acceptance,
        action=ACTION_TO[status],
        reason="Surveillance",
    )
    app = world.draft_application()

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.cb_not_accepted"
    assert err.params["programme"] == "AP"


def test_given_acceptance_limited_to_categories_when_scope_outside_then_refused(
    world: World,
) -> None:
    # Given: a CB accepted for AP only for printed wiring board fabrication (PWB and below)
    team = World.make_cb(world.secretariat, _new_cb_code(), dt.date(2020, 1, 1), programmes=())
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=team.cb,
        programme=world.programme,
        accepted_on=dt.date(2020, 1, 1),
        categories=[ProcessCategory.objects.get(code="PWB")],
    )
    app = world.draft_application(cb=team.cb, category="EPL")

    # When
    err = _refused_submission(world, app)

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == "application.scope_outside_acceptance"
    assert err.params == {"category": "EPL", "programme": "AP", "also": []}
    assert team.cb.code in err.message


def test_given_acceptance_limited_to_categories_when_scope_below_them_then_submitted(
    world: World,
) -> None:
    # Given: PWB.PLT is a child of the accepted PWB category
    team = World.make_cb(world.secretariat, _new_cb_code(), dt.date(2020, 1, 1), programmes=())
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=team.cb,
        programme=world.programme,
        accepted_on=dt.date(2020, 1, 1),
        categories=[ProcessCategory.objects.get(code="PWB")],
    )
    app = world.draft_application(cb=team.cb, category="PWB.PLT")

    # When
    _submit(world, app)

    # Then
    assert Application.objects.get(pk=app.pk).status == "submitted"


# --- declared standards ---------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["ISO 9001:2008", "ISO 9001:2000"])
def test_given_superseded_standard_when_submitted_then_current_edition_is_named(
    world: World, declared: str
) -> None:
    # Given: 2000 was superseded by 2008, itself superseded by 2015
    app = world.draft_application(standards=(declared,))

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "standard.superseded"
    assert err.params == {"standard": declared, "current": "ISO 9001:2015", "also": []}
    assert "ISO 9001:2015" in err.message
    assert declared in err.message


def test_given_standard_not_accepted_for_iecq_when_submitted_then_not_accepted(
    world: World,
) -> None:
    # Given: the aerospace QMS standard is in the catalogue but not declarable in IECQ
    std = Standard.objects.get(designation="SAE AS9100", edition="2016")
    assert std.accepted_for_iecq is False
    app = world.draft_application(standards=("ISO 9001:2015", "SAE AS9100:2016"))

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "standard.not_accepted"
    assert err.params == {"standard": "SAE AS9100:2016", "also": []}


@pytest.mark.parametrize(
    ("status", "withdrawn_on"),
    [
        pytest.param("withdrawn", dt.date(2020, 6, 30), id="status-withdrawn"),
        pytest.param("withdrawn", None, id="status-withdrawn-no-date"),
        pytest.param("current", DAY0, id="current-but-withdrawn-on-submission-day"),
    ],
)
def test_given_withdrawn_standard_when_submitted_then_withdrawn(
    world: World, status: str, withdrawn_on: dt.date | None
) -> None:
    # Given: no catalogue entry is withdrawn, so make one
    std = Standard.objects.create(
        designation="IEC 99999-1",
        edition="2001",
        title="A withdrawn specification",
        status=status,
        withdrawn_on=withdrawn_on,
        accepted_for_iecq=True,
    )
    app = world.draft_application(standards=(std.reference,))

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "standard.withdrawn"
    assert err.params == {"standard": "IEC 99999-1:2001", "also": []}
    assert "IEC 99999-1:2001" in err.message


def test_given_standard_withdrawn_after_submission_day_when_submitted_then_submitted(
    world: World,
) -> None:
    # Given: a current edition whose withdrawal date is still ahead
    std = Standard.objects.create(
        designation="IEC 99999-1",
        edition="2001",
        title="A specification soon withdrawn",
        status="current",
        withdrawn_on=DAY0 + dt.timedelta(days=1),
    )
    app = world.draft_application(standards=(std.reference,))

    # When
    _submit(world, app)

    # Then
    assert Application.objects.get(pk=app.pk).status == "submitted"


@pytest.mark.parametrize("declared", ["ISO 9001:1887", "ISO 9001", "", "Not a standard:2015"])
def test_given_unknown_standard_when_scope_line_added_then_unknown_and_no_line(
    world: World, declared: str
) -> None:
    # Given ("reference" would shadow the conftest fixture of that name)
    app = world.draft_application(category="")
    before = _counts()

    # When
    with pytest.raises(RuleViolation) as exc:
        scope_line_add(
            actor=world.org_user,
            application=app,
            category=ProcessCategory.objects.get(code="EPL"),
            site=world.site,
            wording="Electroplating at the main plant",
            standards=("ISO 9001:2015", declared),
        )

    # Then
    assert exc.value.code == "standard.unknown"
    assert exc.value.params == {"standard": declared}
    assert _counts() == before
    assert not ScopeLine.objects.filter(application=app).exists()


# --- what the application asks for ---------------------------------------------------------


def test_given_component_qualification_requested_when_submitted_then_pointed_to_ac(
    world: World,
) -> None:
    # Given
    app = world.draft_application(requests_component_qualification=True)

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.component_qualification_is_ac"
    assert err.params == {"also": []}
    assert "IECQ 03-3" in err.message
    assert "Approved Component" in err.message


def test_given_design_claimed_without_design_line_when_submitted_then_design_scope_missing(
    world: World,
) -> None:
    # Given: design claimed, but the only line is electroplating
    assert ProcessCategory.objects.get(code="EPL").is_design is False
    app = world.draft_application(category="EPL", design_claimed=True)

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.design_scope_missing"
    assert err.field == "scope_lines"
    assert err.params == {"also": []}


def test_given_design_line_without_claim_when_submitted_then_design_not_claimed(
    world: World,
) -> None:
    # Given
    assert ProcessCategory.objects.get(code="DES.ELEC").is_design is True
    app = world.draft_application(category="DES.ELEC", design_claimed=False)

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.design_not_claimed"
    assert err.field == "design_claimed"
    assert err.params == {"also": []}


def test_given_design_claimed_with_design_line_when_submitted_then_submitted(
    world: World,
) -> None:
    # Given
    app = world.draft_application(category="DES.ELEC", design_claimed=True)

    # When
    _submit(world, app)

    # Then
    assert Application.objects.get(pk=app.pk).status == "submitted"


def test_given_no_scope_line_when_submitted_then_no_scope(world: World) -> None:
    # Given
    app = world.draft_application(category="")

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.no_scope"
    assert err.params == {"also": []}


def test_given_scope_line_without_standard_when_submitted_then_refused(world: World) -> None:
    # Given
    app = world.draft_application(standards=())

    # When
    err = _refused_submission(world, app)

    # Then
    assert err.code == "application.scope_line_without_standard"
    assert err.params == {"also": []}
    assert "EPL" in err.message


# --- status and rights ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["submitted", "accepted", "withdrawn"])
def test_given_application_not_draft_when_submitted_then_transition_not_allowed(
    world: World, status: str
) -> None:
    # Given
    if status == "accepted":
        app = world.accepted_application()
    else:
        app = _submit(world, world.draft_application())
        if status == "withdrawn":
            app = application_withdraw(actor=world.org_user, application=app, reason="Changed")
    assert Application.objects.get(pk=app.pk).status == status

    # When
    err = _refused_submission(world, app)

    # Then
    assert isinstance(err, TransitionNotAllowed)
    assert err.code == "application.transition_not_allowed"
    assert err.params == {"state": status, "action": "submit"}


@pytest.mark.parametrize("who", ["stranger", "cb_manager", "other_org_admin"])
def test_given_non_member_when_submitting_then_organization_member_required(
    world: World, who: str
) -> None:
    # Given
    app = world.draft_application()
    if who == "stranger":
        actor = make_user("stranger")
    elif who == "cb_manager":
        actor = world.team.manager
    else:
        actor = World.build().org_user

    # When
    err = _refused_submission(world, app, actor=actor)

    # Then
    assert isinstance(err, PermissionDenied)
    assert err.code == "permission.organization_member_required"


def test_given_several_problems_when_submitted_then_first_raised_with_others_in_also(
    world: World,
) -> None:
    # Given: components asked for, a programme the CB lacks, a superseded standard, design
    # claimed without a design line
    app = world.draft_application(
        programmes=("AP", "AP-ECMP"),
        standards=("ISO 9001:2008",),
        design_claimed=True,
        requests_component_qualification=True,
    )

    # When
    err = _refused_submission(world, app)

    # Then: the first in the order a user should fix them, the rest listed after it
    assert err.code == "application.component_qualification_is_ac"
    assert err.params["also"] == [
        "application.cb_not_accepted",
        "standard.superseded",
        "application.design_scope_missing",
    ]


# --- after the decision --------------------------------------------------------------------


def test_given_granted_application_when_withdrawn_then_already_decided(world: World) -> None:
    # Given: withdrawal is open only until a decision (lifecycle.APPLICATION)
    cert = world.granted()
    app = Application.objects.get(pk=cert.application_id)
    before = _counts()

    # When
    with pytest.raises(RuleViolation) as exc:
        application_withdraw(actor=world.org_user, application=app, reason="No longer needed")

    # Then
    assert exc.value.code == "application.already_decided"
    assert _counts() == before
    fresh = Application.objects.get(pk=app.pk)
    assert (fresh.status, fresh.closed_at) == ("accepted", None)


# --- the scheme and its programmes ---------------------------------------------------------


def _draft_under(world: World, scheme_code: str, programme_codes: tuple[str, ...]) -> Application:
    """A draft with one complete scope line, made under ``scheme_code`` for the programmes
    named: the service that starts a draft takes them as given, submission checks them."""
    app = application_create(
        actor=world.org_user,
        organization=world.org,
        cb=world.team.cb,
        scheme=Scheme.objects.get(code=scheme_code),
        programmes=Programme.objects.filter(code__in=programme_codes),
    )
    scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="EPL"),
        site=world.site,
        wording="Electroplating at the main plant",
        standards=("ISO 9001:2015",),
    )
    return app


def test_given_no_programme_when_submitted_then_no_programme(world: World) -> None:
    # Given: a draft under AP that names no programme
    app = _draft_under(world, "AP", ())
    assert not app.programmes.exists()

    # When
    err = _refused_submission(world, app)

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == APPLICATION_NO_PROGRAMME
    assert err.field == "programmes"
    assert err.params == {"also": []}


def test_given_programme_of_another_scheme_when_submitted_then_programme_scheme_mismatch(
    world: World,
) -> None:
    # Given: a draft under AP that also names HSPM, a programme of the HSPM scheme
    assert Programme.objects.get(code="HSPM").scheme.code == "HSPM"
    app = _draft_under(world, "AP", ("AP", "HSPM"))

    # When
    err = _refused_submission(world, app)

    # Then: the mismatch first; the CB, accepted for AP programmes only, lacks HSPM too
    assert isinstance(err, RuleViolation)
    assert err.code == APPLICATION_PROGRAMME_SCHEME_MISMATCH
    assert err.params == {"also": ["application.cb_not_accepted"]}
    assert "HSPM" in err.message


def test_given_scheme_apcert_does_not_run_when_submitted_then_scheme_not_supported(
    world: World,
) -> None:
    # Given: a draft under HSPM, for its own programme, to a CB accepted for it
    assert Scheme.objects.get(code="HSPM").supported is False
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=world.team.cb,
        programme=Programme.objects.get(code="HSPM"),
        accepted_on=dt.date(2020, 1, 1),
    )
    app = _draft_under(world, "HSPM", ("HSPM",))

    # When
    err = _refused_submission(world, app)

    # Then: the scheme is the only problem
    assert isinstance(err, RuleViolation)
    assert err.code == APPLICATION_SCHEME_NOT_SUPPORTED
    assert err.params == {"also": []}
    assert "HSPM" in err.message
