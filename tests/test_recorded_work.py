"""Work done in the CB's own software: the outcome of an initial assessment and its decision
recorded in apcert. The same rules as for work run in apcert are checked against the record
before anything is written; each refusal has its code and leaves every table as it was; a
record that passes is issued, published and audited as usual, and kept, marked recorded, as
the certificate's basis."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.test import Client

from apcert.accounts.api_tokens import api_token_issue
from apcert.applications.errors import DECISION_CB_NOT_ACCEPTED
from apcert.assessments.errors import (
    ASSESSMENT_APPLICATION_NOT_ACCEPTED,
    ASSESSMENT_DUPLICATE_MEMBER,
    ASSESSMENT_INITIAL_ALREADY_PLANNED,
    ASSESSMENT_LEAD_REQUIRED,
    ASSESSMENT_REPORT_BEFORE_END,
    ASSESSMENT_REPORT_IN_FUTURE,
    ASSESSMENT_SUBJECT_REQUIRED,
    ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED,
    ASSESSMENT_TOO_LONG,
    FINDING_CLOSED_BEFORE_RAISED,
    FINDING_CLOSED_IN_FUTURE,
    FINDING_RAISED_OUTSIDE_ASSESSMENT,
    FINDING_STANDARD_NOT_DECLARED,
    FINDING_STANDARD_REQUIRED,
)
from apcert.assessments.models import Assessment, Finding, TeamMember
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_transition, cb_staff_add
from apcert.certificates.errors import (
    DECISION_ALREADY_GRANTED,
    DECISION_BEFORE_REPORT,
    DECISION_IN_FUTURE,
    DECISION_INITIAL_ASSESSMENT_EXPIRED,
    DECISION_MAKER_ON_TEAM,
    DECISION_MINOR_WITHOUT_PLAN,
    DECISION_OPEN_MAJOR,
)
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.services import (
    RecordedFinding,
    RecordedMember,
    assessment_outcome_record,
    certificate_grant,
)
from apcert.core.dates import add_months
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_DATE_ORDER,
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    INVALID_TOO_LONG,
    PERMISSION_CB_ROLE_REQUIRED,
    DomainError,
)
from apcert.register.models import SearchEntry
from apcert.schemes.models import Standard
from tests.factories import DAY0, World, make_user, on_day

pytestmark = pytest.mark.django_db

START = DAY0 + dt.timedelta(days=30)
END = START + dt.timedelta(days=1)
REPORT = END + dt.timedelta(days=3)
DECIDED = END + dt.timedelta(days=40)
#: The day the CB records its work in apcert: after the decision.
RECORDED_ON = DECIDED + dt.timedelta(days=5)


def _findings() -> list[RecordedFinding]:
    return [
        RecordedFinding(
            grade="major",
            requirement_kind="iso9001",
            requirement_ref="ISO 9001:2015 8.5.1",
            description="Work instructions out of date",
            raised_on=START,
            closed_on=END + dt.timedelta(days=20),
        ),
        RecordedFinding(
            grade="minor",
            requirement_kind="iso9001",
            requirement_ref="ISO 9001:2015 7.5.3",
            description="Records incomplete",
            raised_on=END,
            plan_accepted_on=END + dt.timedelta(days=15),
        ),
        RecordedFinding(
            grade="observation",
            requirement_kind="iecq",
            requirement_ref="IECQ 03-2 4.1",
            description="Labels could be clearer",
            raised_on=END,
        ),
    ]


def _team(world: World) -> list[RecordedMember]:
    return [
        RecordedMember(name="Anna Weber", role="lead"),
        RecordedMember(name="Lars Berg", role="member", user=world.team.assessor),
        RecordedMember(name="Dr. Ken Ito", role="technical_expert"),
    ]


def _record(world: World, app: Any, **changes: Any) -> Any:
    kwargs: dict[str, Any] = {
        "actor": world.team.manager,
        "application": app,
        "kind": "initial",
        "start_date": START,
        "end_date": END,
        "team": _team(world),
        "findings": _findings(),
        "report_issued_on": REPORT,
        "decision": "grant",
        "decided_by": world.team.decision_maker,
        "decided_on": DECIDED,
        "rationale": "All requirements met",
    }
    recorded_on = changes.pop("recorded_on", RECORDED_ON)
    kwargs.update(changes)
    with on_day(recorded_on):
        return assessment_outcome_record(**kwargs)


def _counts() -> tuple[int, ...]:
    return (
        Assessment.objects.count(),
        TeamMember.objects.count(),
        Finding.objects.count(),
        Decision.objects.count(),
        Certificate.objects.count(),
        AuditEvent.objects.count(),
    )


def _refused(run: Callable[[], Any]) -> DomainError:
    before = _counts()
    with pytest.raises(DomainError) as caught:
        run()
    assert _counts() == before, "a refused record wrote something"
    return caught.value


# --- the happy path ------------------------------------------------------------------------


def test_a_recorded_grant_is_issued_published_and_kept_marked_recorded(world: World):
    # Given an accepted application and the CB's record of its work
    app = world.accepted_application()
    events = AuditEvent.objects.count()

    # When it is recorded
    outcome = _record(world, app)

    # Then the certificate is granted, published and rests on the recorded assessment
    cert = Certificate.objects.get(pk=outcome.certificate.pk)
    assert cert.status == "current"
    assert cert.first_issued_on == DECIDED
    assert SearchEntry.objects.filter(certificate=cert).exists()
    decision = Decision.objects.get(certificate=cert)
    assert decision == outcome.decision
    assert (decision.kind, decision.decided_by, decision.decided_on) == (
        "grant",
        world.team.decision_maker,
        DECIDED,
    )
    a = decision.assessment
    assert a == outcome.assessment
    assert (a.origin, a.recorded, a.status, a.kind) == ("recorded", True, "closed", "initial")
    assert (a.start_date, a.end_date, a.report_issued_on) == (START, END, REPORT)
    team = sorted((m.name, m.role, m.user) for m in a.team.all())
    assert team == [
        ("Anna Weber", "lead", None),
        ("Dr. Ken Ito", "technical_expert", None),
        ("Lars Berg", "member", world.team.assessor),
    ]
    findings = [(f.number, f.grade, f.status, f.closed_on) for f in a.findings.order_by("number")]
    assert findings == [
        (1, "major", "closed", END + dt.timedelta(days=20)),
        (2, "minor", "plan_accepted", None),
        (3, "observation", "closed", END),
    ]
    # And audited: the record by the scheme manager, the grant naming its decision maker
    new = list(AuditEvent.objects.filter(seq__gt=0).order_by("seq"))[events:]
    assert [e.action for e in new] == ["assessment.record", "certificate.grant"]
    assert {e.actor_id for e in new} == {world.team.manager.pk}
    assert new[0].after["origin"] == "recorded"
    assert new[0].after["team"][0] == ["Anna Weber", "lead", None]
    assert new[1].after["decided_by"] == world.team.decision_maker.username


def test_a_recorded_refusal_makes_no_certificate_and_keeps_the_record(world: World):
    app = world.accepted_application()
    open_major = replace(_findings()[0], closed_on=None)

    outcome = _record(world, app, decision="refuse", findings=[open_major], rationale="Major open")

    assert outcome.certificate is None
    assert not Certificate.objects.filter(application=app).exists()
    assert (outcome.decision.kind, outcome.decision.decided_by) == (
        "refuse",
        world.team.decision_maker,
    )
    assert outcome.assessment.recorded
    assert AuditEvent.objects.filter(action="decision.refuse").count() == 1


# --- each rule, refused with its code, nothing written -----------------------------------


def _major(**changes: Any) -> RecordedFinding:
    return replace(_findings()[0], **changes)


#: (what is wrong, the changes to the record, the code refused): each a rule of the scheme.
RULES: list[tuple[str, Callable[[World], dict[str, Any]], str]] = [
    # the decision maker not on the team, as its user or by name
    (
        "decision maker on the team as a user",
        lambda w: {
            "team": [
                RecordedMember(name="Anna Weber", role="lead"),
                RecordedMember(name="Kim", role="member", user=w.team.decision_maker2),
            ],
            "decided_by": w.team.decision_maker2,
        },
        DECISION_MAKER_ON_TEAM,
    ),
    (
        "decision maker on the team by name",
        lambda w: {
            "team": [
                RecordedMember(name="Anna Weber", role="lead"),
                RecordedMember(name=f"  {w.team.decision_maker.full_name.upper()} ", role="member"),
            ]
        },
        DECISION_MAKER_ON_TEAM,
    ),
    (
        "decision maker not a decision maker of the CB",
        lambda w: {"decided_by": w.team.assessor},
        PERMISSION_CB_ROLE_REQUIRED,
    ),
    # no major open at the decision
    ("major never closed", lambda w: {"findings": [_major(closed_on=None)]}, DECISION_OPEN_MAJOR),
    (
        "major closed after the decision",
        lambda w: {"findings": [_major(closed_on=DECIDED + dt.timedelta(days=1))]},
        DECISION_OPEN_MAJOR,
    ),
    (
        "minor open without an accepted plan",
        lambda w: {"findings": [replace(_findings()[1], plan_accepted_on=None)]},
        DECISION_MINOR_WITHOUT_PLAN,
    ),
    # dates in order, none in the future
    (
        "ends before it starts",
        lambda w: {"end_date": START - dt.timedelta(days=1)},
        INVALID_DATE_ORDER,
    ),
    ("too long", lambda w: {"end_date": START + dt.timedelta(days=40)}, ASSESSMENT_TOO_LONG),
    (
        "report before the last day",
        lambda w: {"report_issued_on": END - dt.timedelta(days=1)},
        ASSESSMENT_REPORT_BEFORE_END,
    ),
    (
        "decision before the report",
        lambda w: {"decided_on": REPORT - dt.timedelta(days=1)},
        DECISION_BEFORE_REPORT,
    ),
    (
        "decision in the future",
        lambda w: {"decided_on": RECORDED_ON + dt.timedelta(days=1)},
        DECISION_IN_FUTURE,
    ),
    (
        "report in the future",
        lambda w: {
            "report_issued_on": RECORDED_ON + dt.timedelta(days=1),
            "decided_on": RECORDED_ON,
        },
        ASSESSMENT_REPORT_IN_FUTURE,
    ),
    (
        "finding raised before the assessment",
        lambda w: {"findings": [_major(raised_on=START - dt.timedelta(days=1))]},
        FINDING_RAISED_OUTSIDE_ASSESSMENT,
    ),
    (
        "finding raised after the assessment",
        lambda w: {"findings": [_major(raised_on=END + dt.timedelta(days=1))]},
        FINDING_RAISED_OUTSIDE_ASSESSMENT,
    ),
    (
        "finding closed before it was raised",
        lambda w: {"findings": [_major(raised_on=END, closed_on=START)]},
        FINDING_CLOSED_BEFORE_RAISED,
    ),
    (
        "finding closed in the future",
        lambda w: {
            "findings": [replace(_findings()[1], closed_on=RECORDED_ON + dt.timedelta(days=2))]
        },
        FINDING_CLOSED_IN_FUTURE,
    ),
    (
        "plan accepted before the finding was raised",
        lambda w: {
            "findings": [replace(_findings()[1], plan_accepted_on=START - dt.timedelta(days=1))]
        },
        INVALID_DATE_ORDER,
    ),
    # the initial assessment's majors verified in time
    (
        "major verified past the scheme's months",
        lambda w: {
            "findings": [_major(closed_on=add_months(END, 6) + dt.timedelta(days=1))],
            "decided_on": add_months(END, 7),
            "recorded_on": add_months(END, 7),
        },
        DECISION_INITIAL_ASSESSMENT_EXPIRED,
    ),
    # the team
    (
        "no lead",
        lambda w: {"team": [RecordedMember(name="Anna Weber", role="member")]},
        ASSESSMENT_LEAD_REQUIRED,
    ),
    (
        "the same person twice",
        lambda w: {
            "team": [
                RecordedMember(name="Anna Weber", role="lead"),
                RecordedMember(name="anna  weber", role="member"),
            ]
        },
        ASSESSMENT_DUPLICATE_MEMBER,
    ),
    (
        "a user of the team not an assessor of the CB",
        lambda w: {
            "team": [RecordedMember(name="Org user", role="lead", user=w.org_user)],
        },
        ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED,
    ),
    (
        "a member without a name",
        lambda w: {
            "team": [
                RecordedMember(name="Anna Weber", role="lead"),
                RecordedMember(name=" ", role="member"),
            ]
        },
        INVALID_REQUIRED,
    ),
    (
        "an unknown role",
        lambda w: {"team": [*_team(w), RecordedMember(name="X Y", role="observer")]},
        INVALID_CHOICE,
    ),
    (
        "a name longer than kept",
        lambda w: {"team": [RecordedMember(name="A" * 201, role="lead")]},
        INVALID_TOO_LONG,
    ),
    # the findings
    (
        "an unknown grade",
        lambda w: {"findings": [_major(grade="critical")]},
        INVALID_CHOICE,
    ),
    (
        "a standard's clause without the standard",
        lambda w: {"findings": [_major(requirement_kind="standard")]},
        FINDING_STANDARD_REQUIRED,
    ),
    (
        "a standard not declared",
        lambda w: {
            "findings": [_major(requirement_kind="standard", standard="IEC 61340-5-1:2016")]
        },
        FINDING_STANDARD_NOT_DECLARED,
    ),
    # the subject and the decision
    ("another kind of assessment", lambda w: {"kind": "surveillance"}, ASSESSMENT_SUBJECT_REQUIRED),
    ("an unknown decision", lambda w: {"decision": "maintain"}, INVALID_CHOICE),
    (
        "a refusal without a reason",
        lambda w: {"decision": "refuse", "rationale": " "},
        INVALID_REASON_REQUIRED,
    ),
]


@pytest.mark.parametrize(("what", "changes", "code"), RULES, ids=[r[0] for r in RULES])
def test_each_rule_is_refused_with_its_code_and_nothing_is_written(
    world: World, what: str, changes: Callable[[World], dict[str, Any]], code: str
):
    app = world.accepted_application()
    err = _refused(lambda: _record(world, app, **changes(world)))
    assert err.code == code, (what, err)


def test_every_problem_is_reported_at_once(world: World):
    app = world.accepted_application()
    err = _refused(
        lambda: _record(
            world,
            app,
            team=[
                RecordedMember(name="Anna Weber", role="member"),
                RecordedMember(name=world.team.decision_maker.full_name, role="member"),
            ],
            findings=[_major(closed_on=None)],
            decided_on=REPORT - dt.timedelta(days=1),
        )
    )
    assert err.code == ASSESSMENT_LEAD_REQUIRED
    assert err.params["also"] == [
        DECISION_MAKER_ON_TEAM,
        DECISION_BEFORE_REPORT,
        DECISION_OPEN_MAJOR,
    ]
    assert f"Also ({DECISION_OPEN_MAJOR})" in err.message


def test_the_scope_outside_the_cb_s_acceptance_is_refused(world: World):
    app = world.accepted_application()
    acceptance = CBAcceptance.objects.get(cb=world.team.cb, programme=world.programme)
    cb_acceptance_transition(
        actor=world.secretariat, acceptance=acceptance, action="suspend", reason="Peer review"
    )
    err = _refused(lambda: _record(world, app))
    assert err.code == DECISION_CB_NOT_ACCEPTED


def test_a_standard_no_longer_current_is_refused(world: World):
    app = world.accepted_application()
    new = Standard.objects.create(designation="ISO 9001", edition="2026", title="QMS")
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="superseded", superseded_by=new
    )
    err = _refused(lambda: _record(world, app))
    assert err.code == "decision.standard_not_current"
    # A refusal publishes nothing: the standards are the grant's rule
    assert _record(world, app, decision="refuse", rationale="Outdated standard").certificate is None


def test_the_application_must_be_accepted_not_yet_assessed_nor_granted(world: World):
    draft = world.draft_application()
    assert _refused(lambda: _record(world, draft)).code == ASSESSMENT_APPLICATION_NOT_ACCEPTED
    app = world.accepted_application()
    world.assessment(app, report=False)
    assert _refused(lambda: _record(world, app)).code == ASSESSMENT_INITIAL_ALREADY_PLANNED
    granted = world.accepted_application()
    _record(world, granted)
    assert _refused(lambda: _record(world, granted)).code == DECISION_ALREADY_GRANTED


def test_only_a_scheme_manager_of_the_cb_records(world: World):
    app = world.accepted_application()
    for actor in (world.team.assessor, world.org_user, World.build().team.manager):
        err = _refused(lambda actor=actor: _record(world, app, actor=actor))
        assert err.code == PERMISSION_CB_ROLE_REQUIRED


def test_a_decision_on_work_run_in_apcert_is_not_recorded_in_another_s_name(world: World):
    # Given an assessment run in apcert, its findings resolved and its report issued
    app = world.accepted_application()
    a = world.assessment(app)
    decided_on = a.end_date + dt.timedelta(days=40)
    with on_day(decided_on):
        # When its scheme manager grants it naming the decision maker: refused
        err = _refused(
            lambda: certificate_grant(
                actor=world.team.manager,
                application=app,
                assessment=a,
                decided_on=decided_on,
                decided_by=world.team.decision_maker,
            )
        )
        assert err.code == PERMISSION_CB_ROLE_REQUIRED
        # The decision maker takes it in person
        cert = certificate_grant(
            actor=world.team.decision_maker, application=app, assessment=a, decided_on=decided_on
        )
    assert Decision.objects.get(certificate=cert).decided_by == world.team.decision_maker


# --- what the pages say ----------------------------------------------------------------------


def test_the_pages_say_the_work_was_recorded_and_the_register_shows_no_team(
    world: World, client: Client
):
    app = world.accepted_application()
    outcome = _record(world, app)
    client.force_login(world.team.manager)
    page = client.get(f"/office/cb/assessments/{outcome.assessment.pk}/").content.decode()
    assert "Recorded in the CB&#x27;s own software" in page
    assert "Anna Weber: lead assessor" in page and "Dr. Ken Ito: technical expert" in page
    report = client.get(f"/office/cb/assessments/{outcome.assessment.pk}/report.html")
    assert "own software and recorded in apcert" in report.content.decode()
    page = client.get(f"/office/cb/certificates/{outcome.certificate.pk}/").content.decode()
    assert "recorded in the CB&#x27;s own software" in page
    assert "Anna Weber (lead assessor)" in page
    public = client.get(f"/certificates/{outcome.certificate.number}").content.decode()
    assert outcome.certificate.number in public
    assert "Anna Weber" not in public and "own software" not in public
    # A certificate granted on work run in apcert says nothing of the kind
    run = world.granted()
    page = client.get(f"/office/cb/certificates/{run.pk}/").content.decode()
    assert "own software" not in page
    run_assessment = Decision.objects.get(certificate=run).assessment
    report = client.get(f"/office/cb/assessments/{run_assessment.pk}/report.html")
    assert report.status_code == 200 and "own software" not in report.content.decode()


# --- over the API --------------------------------------------------------------------------


def _body(world: World, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "initial",
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "team": [
            {"name": "Anna Weber", "role": "lead"},
            {"name": "Lars Berg", "role": "member", "username": world.team.assessor.username},
        ],
        "findings": [
            {
                "grade": "major",
                "requirement_kind": "iso9001",
                "requirement": "ISO 9001:2015 8.5.1",
                "description": "Work instructions out of date",
                "raised_on": START.isoformat(),
                "closed_on": (END + dt.timedelta(days=20)).isoformat(),
            }
        ],
        "report_issued_on": REPORT.isoformat(),
        "decision": {
            "kind": "grant",
            "decided_by": world.team.decision_maker.username,
            "decided_on": DECIDED.isoformat(),
            "rationale": "All requirements met",
        },
    }
    body.update(changes)
    return body


def _post(client: Client, app_id: int, secret: str, body: dict[str, Any]) -> Any:
    with on_day(RECORDED_ON):
        return client.post(
            f"/api/v1/applications/{app_id}/recorded-outcome",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )


def _admin(world: World) -> Any:
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    return admin


def test_the_api_records_a_cb_s_work_with_a_write_token(world: World, client: Client):
    admin = _admin(world)
    writer = api_token_issue(actor=admin, name="w", place=world.team.cb, scope="write")
    reader = api_token_issue(actor=admin, name="r", place=world.team.cb, scope="read")
    app = world.accepted_application()
    outsider = World.build().team.decision_maker

    # A read token may not write
    before = _counts()
    refused = _post(client, app.pk, reader.secret, _body(world))
    assert (refused.status_code, refused.json()["code"]) == (403, "api_token.write_scope_required")
    assert _counts() == before

    # A rule broken: refused with its code, nothing written
    on_team = _body(world)
    on_team["team"].append({"name": world.team.decision_maker.full_name, "role": "member"})
    refused = _post(client, app.pk, writer.secret, on_team)
    assert (refused.status_code, refused.json()["code"]) == (409, DECISION_MAKER_ON_TEAM)
    assert _counts() == before

    # A decision maker who is not one of the CB's people
    stranger = _body(world)
    stranger["decision"]["decided_by"] = outsider.username
    refused = _post(client, app.pk, writer.secret, stranger)
    assert (refused.status_code, refused.json()["code"]) == (403, PERMISSION_CB_ROLE_REQUIRED)
    assert _counts() == before

    # The record as it should be: granted and published
    answer = _post(client, app.pk, writer.secret, _body(world))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["decision"] == "grant" and body["origin"] == "recorded"
    cert = Certificate.objects.get(number=body["certificate"]["number"])
    assert cert.status == "current" and cert.application == app
    a = Assessment.objects.get(pk=body["assessment_id"])
    assert a.recorded and a.team.get(role="member").user == world.team.assessor
    event = AuditEvent.objects.filter(action="assessment.record").get()
    assert event.actor_id == admin.pk
    assert f"with API token {writer.token.pk}" in event.actor_label

    # Read back over the API: marked recorded, a member without an account by name alone
    with on_day(RECORDED_ON):
        read = client.get(
            f"/api/v1/assessments/{a.pk}", HTTP_AUTHORIZATION=f"Bearer {reader.secret}"
        )
    assert read.status_code == 200, read.content
    assert read.json()["origin"] == "recorded"
    assert {(m["name"], m["username"], m["role"]) for m in read.json()["team"]} == {
        ("Anna Weber", None, "lead"),
        ("Lars Berg", world.team.assessor.username, "member"),
    }


def test_another_cb_s_token_finds_no_such_application(world: World, client: Client):
    other = World.build(cb_code="NORD")
    other_writer = api_token_issue(
        actor=_admin(other), name="w", place=other.team.cb, scope="write"
    )
    app = world.accepted_application()
    before = _counts()
    answer = _post(client, app.pk, other_writer.secret, _body(world))
    assert (answer.status_code, answer.json()["code"]) == (404, "application.not_found")
    assert _counts() == before
