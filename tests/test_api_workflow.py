"""The CB workflow over the API for integrators: an application accepted, its assessment
planned with a team, started, findings recorded and answered, answers reviewed, the report
issued, certification granted, the certificate suspended, restored and withdrawn; each step
with the token of the person whose role the scheme asks for, and each rule answered with the
service's own code. Changes of a certificate take If-Match: a stale ETag is refused with 412
and changes nothing. Another CB's token reaches none of it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from apcert.accounts.api_tokens import api_token_issue
from apcert.accounts.errors import API_TOKEN_WRITE_SCOPE_REQUIRED
from apcert.api.errors import (
    ASSESSMENT_NOT_FOUND,
    CERTIFICATE_NOT_FOUND,
    CORRECTIVE_ACTION_NOT_FOUND,
    DECISION_NOT_OFFERED,
    FINDING_NOT_FOUND,
    IF_MATCH_FAILED,
    IF_MATCH_REQUIRED,
    RECORDED_CHANGE_NOT_FOUND,
    SITE_NOT_FOUND,
    TEAM_MEMBER_UNKNOWN,
)
from apcert.applications.services import application_submit
from apcert.assessments.errors import ASSESSMENT_LEAD_REQUIRED, ASSESSMENT_START_BEFORE_PLANNED
from apcert.audit.models import AuditEvent
from apcert.bodies.services import cb_staff_add
from apcert.certificates.errors import DECISION_MAKER_ON_TEAM
from apcert.certificates.models import Certificate
from apcert.core.errors import (
    INVALID_CHOICE,
    PERMISSION_ASSESSOR_REQUIRED,
    PERMISSION_CB_ROLE_REQUIRED,
    PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
    PERMISSION_TEAM_MEMBER_REQUIRED,
)
from tests.api_workflow_support import VALID, call, refused, tokens, unchanged
from tests.factories import DAY0, World, on_day

pytestmark = pytest.mark.django_db


def test_the_whole_cb_workflow_over_the_api(world: World, client: Client):
    t = tokens(world)
    team = world.team
    app = application_submit(actor=world.org_user, application=world.draft_application(), on=DAY0)
    start = DAY0 + dt.timedelta(days=30)
    with on_day(DAY0):
        accepted = call(client, "post", f"applications/{app.pk}/accept", t["manager"])
        assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")
        plan = {
            "start_date": start.isoformat(),
            "end_date": (start + dt.timedelta(days=1)).isoformat(),
            "team": [
                {"username": team.lead.username, "role": "lead"},
                {"username": team.decision_maker2.username, "role": "member"},
            ],
        }
        path = f"applications/{app.pk}/assessments"
        # The rules of the plan, each with the service's code, nothing written
        refused(
            unchanged(lambda: call(client, "post", path, t["org"], plan)),
            403,
            PERMISSION_CB_ROLE_REQUIRED,
        )
        two_leads = {**plan, "team": [{**m, "role": "lead"} for m in plan["team"]]}
        refused(
            unchanged(lambda: call(client, "post", path, t["manager"], two_leads)),
            409,
            ASSESSMENT_LEAD_REQUIRED,
        )
        stranger = {**plan, "team": [{"username": "nobody-here", "role": "lead"}]}
        refused(
            unchanged(lambda: call(client, "post", path, t["manager"], stranger)),
            400,
            TEAM_MEMBER_UNKNOWN,
        )
        planned = call(client, "post", path, t["manager"], plan)
        assert planned.status_code == 200, planned.json()
        a = planned.json()
        assert (a["kind"], a["status"], a["application_id"]) == ("initial", "planned", app.pk)
        assert {(m["username"], m["role"]) for m in a["team"]} == {
            (team.lead.username, "lead"),
            (team.decision_maker2.username, "member"),
        }
        # Not before its first day
        refused(
            call(client, "post", f"assessments/{a['id']}/start", t["lead"]),
            409,
            ASSESSMENT_START_BEFORE_PLANNED,
        )
    with on_day(start):
        # Only the lead starts it
        refused(
            call(client, "post", f"assessments/{a['id']}/start", t["manager"]),
            403,
            PERMISSION_TEAM_MEMBER_REQUIRED,
        )
        started = call(client, "post", f"assessments/{a['id']}/start", t["lead"])
        assert started.json()["status"] == "in_progress"
        findings = {}
        for grade in ("major", "minor", "observation"):
            recorded = call(
                client,
                "post",
                f"assessments/{a['id']}/findings",
                t["lead"],
                {
                    "grade": grade,
                    "requirement_kind": "iso9001",
                    "requirement_ref": "ISO 9001:2015 8.5.1",
                    "description": f"{grade}: records incomplete",
                },
            )
            assert recorded.status_code == 200, recorded.json()
            findings[grade] = recorded.json()
        assert findings["observation"]["status"] == "closed"
        assert findings["major"]["status"] == "open"
    answered_on = start + dt.timedelta(days=5)
    with on_day(answered_on):
        # The organization answers its findings; the CB's token may not answer for it
        answer = {"correction": "Completed", "root_cause": "No checklist", "action": "Checklist"}
        listed = call(client, "get", "findings", t["org"]).json()["items"]
        assert {f["id"] for f in listed} == {f["id"] for f in findings.values()}
        refused(
            call(
                client,
                "post",
                f"findings/{findings['major']['id']}/corrective-actions",
                t["manager"],
                answer,
            ),
            403,
            PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
        )
        answers = {}
        for grade in ("major", "minor"):
            done = call(
                client,
                "post",
                f"findings/{findings[grade]['id']}/corrective-actions",
                t["org"],
                answer,
            )
            assert done.status_code == 200, done.json()
            assert done.json()["status"] == "answered"
            answers[grade] = done.json()["corrective_actions"][-1]["id"]
        # An assessor of the team reviews; the scheme manager is not on it
        refused(
            call(
                client,
                "post",
                f"corrective-actions/{answers['major']}/review",
                t["manager"],
                {"outcome": "verify"},
            ),
            403,
            PERMISSION_ASSESSOR_REQUIRED,
        )
        for grade, outcome in (("major", "verify"), ("minor", "accept_plan")):
            reviewed = call(
                client,
                "post",
                f"corrective-actions/{answers[grade]}/review",
                t["lead"],
                {"outcome": outcome},
            )
            assert reviewed.status_code == 200, reviewed.json()
        assert reviewed.json()["status"] == "plan_accepted"
    report_day = start + dt.timedelta(days=6)
    with on_day(report_day):
        # The organization sees its assessment once the report is issued, as on its pages
        assert call(client, "get", "assessments", t["org"]).json()["items"] == []
        reported = call(
            client, "post", f"assessments/{a['id']}/report", t["lead"], {"summary": "Fine"}
        )
        assert reported.json()["status"] == "report_issued", reported.json()
        listed = call(client, "get", "assessments", t["org"]).json()["items"]
        assert [x["id"] for x in listed] == [a["id"]]
        detail = call(client, "get", f"assessments/{a['id']}", t["manager"]).json()
        assert [f["status"] for f in detail["findings"]] == ["closed", "plan_accepted", "closed"]
        # The decision: not by a decision maker who was on the team, not one the kind
        # does not support
        decide = f"assessments/{a['id']}/decision"
        refused(
            unchanged(
                lambda: call(client, "post", decide, t["decision_maker2"], {"decision": "grant"})
            ),
            409,
            DECISION_MAKER_ON_TEAM,
        )
        refused(
            call(client, "post", decide, t["decision_maker"], {"decision": "renew"}),
            400,
            DECISION_NOT_OFFERED,
        )
        granted = call(client, "post", decide, t["decision_maker"], {"decision": "grant"})
        assert granted.status_code == 200, granted.json()
        number = granted.json()["certificate"]["number"]
        assert granted["ETag"] == granted.json()["etag"]

        # The certificate: its ETag, and each change with If-Match
        read = call(client, "get", f"certificates/{number}", t["decision_maker"])
        etag = read["ETag"]
        assert etag == read.json()["etag"] == granted["ETag"] and etag.startswith('"')
        suspend = {"reason_category": "complaint", "reason": "A complaint under review"}
        path = f"certificates/{number}/suspend"
        refused(
            unchanged(lambda: call(client, "post", path, t["decision_maker"], suspend)),
            428,
            IF_MATCH_REQUIRED,
        )
        refused(
            unchanged(
                lambda: call(client, "post", path, t["decision_maker"], suspend, if_match='"stale"')
            ),
            412,
            IF_MATCH_FAILED,
        )
        # The rules of the service, with the ETag right: only a decision maker (the
        # organization's token reads its certificate, and may not suspend it)
        refused(
            call(client, "post", path, t["org"], suspend, if_match=etag),
            403,
            PERMISSION_CB_ROLE_REQUIRED,
        )
        suspended = call(client, "post", path, t["decision_maker"], suspend, if_match=etag)
        assert suspended.status_code == 200, suspended.json()
        assert suspended.json()["status"] == "suspended"
        new_etag = suspended["ETag"]
        assert new_etag == suspended.json()["etag"] != etag
        assert call(client, "get", f"certificates/{number}", t["manager"])["ETag"] == new_etag
        # The ETag read before the suspension no longer matches: nothing is restored
        restore = {"reason": "The complaint is resolved"}
        refused(
            unchanged(
                lambda: call(
                    client,
                    "post",
                    f"certificates/{number}/restore",
                    t["decision_maker"],
                    restore,
                    if_match=etag,
                )
            ),
            412,
            IF_MATCH_FAILED,
        )
        assert Certificate.objects.get(number=number).status == "suspended"
        restored = call(
            client,
            "post",
            f"certificates/{number}/restore",
            t["decision_maker"],
            restore,
            if_match=new_etag,
        )
        assert restored.json()["status"] == "current", restored.json()
        # Withdrawn with a key: a retry answers the same and writes nothing
        withdraw = {"reason_category": "misuse", "reason": "Mark misused"}
        args = ("post", f"certificates/{number}/withdraw", t["decision_maker"], withdraw)
        events = AuditEvent.objects.count()
        first = call(client, *args, if_match=restored["ETag"], idempotency_key="w-1")
        assert first.json()["status"] == "withdrawn", first.json()
        again = call(client, *args, if_match=restored["ETag"], idempotency_key="w-1")
        assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
        assert again["ETag"] == first["ETag"]
        assert AuditEvent.objects.count() == events + 1


def test_a_refused_precondition_is_not_kept_with_the_key(world: World, client: Client):
    """A 412 or 428 is not the answer to the change: the same key, sent again with the
    right ETag, carries the change out."""
    t = tokens(world)
    cert = world.granted()
    path = f"certificates/{cert.number}/suspend"
    body = {"reason_category": "complaint", "reason": "Complaint"}
    refused(
        call(client, "post", path, t["decision_maker"], body, idempotency_key="k"),
        428,
        IF_MATCH_REQUIRED,
    )
    refused(
        call(client, "post", path, t["decision_maker"], body, idempotency_key="k", if_match='"x"'),
        412,
        IF_MATCH_FAILED,
    )
    etag = call(client, "get", f"certificates/{cert.number}", t["decision_maker"])["ETag"]
    # A list of ETags, one of them current, matches; so does "*"
    done = call(
        client,
        "post",
        path,
        t["decision_maker"],
        body,
        idempotency_key="k",
        if_match=f'"old", {etag}',
    )
    assert done.status_code == 200 and done.json()["status"] == "suspended", done.json()
    withdrawn = call(
        client,
        "post",
        f"certificates/{cert.number}/withdraw",
        t["decision_maker"],
        {"reason_category": "complaint", "reason": "Upheld"},
        if_match="*",
    )
    assert withdrawn.json()["status"] == "withdrawn"


def test_every_change_of_a_certificate_changes_its_etag(world: World, client: Client):
    """Changes made on the screens' side (a service called directly) move the ETag too:
    a scope reduction, a site removed, a suspension."""
    from apcert.certificates.services import certificate_site_remove, certificate_suspend

    t = tokens(world)
    cert = world.granted_at_two_sites()

    def etag() -> str:
        return str(call(client, "get", f"certificates/{cert.number}", t["manager"])["ETag"])

    seen = [etag()]
    assert etag() == seen[0]  # the same state, the same ETag
    # Over the API: the scope reduced, a site named that is not the holder's refused
    reduced = call(
        client,
        "post",
        f"certificates/{cert.number}/remove-site",
        t["decision_maker"],
        {"site_id": 10**9, "reason": "x"},
        if_match=seen[-1],
    )
    refused(reduced, 400, SITE_NOT_FOUND)
    certificate_site_remove(
        actor=world.team.decision_maker,
        certificate=cert,
        site=world.site2,
        reason="Closed",
        decided_on=dt.date.today(),
    )
    seen.append(etag())
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="x",
    )
    seen.append(etag())
    assert len(set(seen)) == 3


def test_a_read_token_may_not_write(world: World, client: Client):
    t = tokens(world, scope="read")
    cert = world.granted()
    for path in (
        f"applications/{cert.application_id}/assessments",
        f"certificates/{cert.number}/assessments",
        f"certificates/{cert.number}/suspend",
        f"certificates/{cert.number}/withdraw",
        f"certificates/{cert.number}/reissue",
        "assessments/1/start",
        "assessments/1/decision",
        "findings/1/corrective-actions",
        "corrective-actions/1/review",
    ):
        refused(
            unchanged(lambda p=path: call(client, "post", p, t["decision_maker"], VALID)),
            403,
            API_TOKEN_WRITE_SCOPE_REQUIRED,
        )


def test_another_cbs_token_reaches_nothing_of_this_cb(world: World, client: Client):
    """Every read and write of the workflow, with a write token of another CB's
    administrator who is also staff here: 404, and nothing written."""
    other = World.build(cb_code="NORD")
    cert = world.granted()
    app = world.accepted_application()
    a = world.assessment(app, findings=("major",), report=False)
    finding = a.findings.get()
    ca = world.answer(finding)
    admin = other.team.decision_maker
    cb_staff_add(actor=other.secretariat, cb=other.team.cb, user=admin, role="admin")
    # A foot in this CB too: the token still reaches only its own place
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="decision_maker")
    secret = api_token_issue(actor=admin, name="o", place=other.team.cb, scope="write").secret
    org_b = api_token_issue(actor=other.org_user, name="o", place=other.org, scope="write").secret
    reads = {
        f"assessments/{a.pk}": ASSESSMENT_NOT_FOUND,
        f"certificates/{cert.number}": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/recorded-changes": CERTIFICATE_NOT_FOUND,
    }
    for path, code in reads.items():
        refused(call(client, "get", path, secret), 404, code)
    assert call(client, "get", "assessments", secret).json()["items"] == []
    assert call(client, "get", "findings", secret).json()["items"] == []
    assert call(client, "get", "findings", org_b).json()["items"] == []
    writes = {
        f"applications/{app.pk}/assessments": "application.not_found",
        f"certificates/{cert.number}/assessments": CERTIFICATE_NOT_FOUND,
        f"assessments/{a.pk}/start": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/cancel": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/reschedule": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/findings": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/report": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/decision": ASSESSMENT_NOT_FOUND,
        f"assessments/{a.pk}/defer": ASSESSMENT_NOT_FOUND,
        f"corrective-actions/{ca.pk}/review": CORRECTIVE_ACTION_NOT_FOUND,
        f"certificates/{cert.number}/suspend": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/restore": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/withdraw": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/cancel": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/reduce-scope": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/remove-site": CERTIFICATE_NOT_FOUND,
        f"certificates/{cert.number}/reissue": CERTIFICATE_NOT_FOUND,
    }
    for path, code in writes.items():
        refused(
            unchanged(lambda p=path: call(client, "post", p, secret, VALID, if_match="*")),
            404,
            code,
        )
    # Another organization's token: not this organization's finding
    refused(
        unchanged(
            lambda: call(
                client,
                "post",
                f"findings/{finding.pk}/corrective-actions",
                org_b,
                {"correction": "x", "root_cause": "x", "action": "x"},
            )
        ),
        404,
        FINDING_NOT_FOUND,
    )


@pytest.mark.postgres_only
def test_two_systems_changing_a_certificate_at_once_with_one_etag_one_isrefused(
    live_world: World,
):
    """Both read the same ETag and send a change at the same moment: the ETag is checked
    under the certificate's lock, so the second waits for the first, then finds the
    certificate changed (412) and writes nothing."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections with row locks (PostgreSQL)")
    world = live_world
    t = tokens(world)
    cert = world.granted()
    etag = call(Client(), "get", f"certificates/{cert.number}", t["decision_maker"])["ETag"]
    events = AuditEvent.objects.count()
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def send(action: str) -> None:
        try:
            barrier.wait(timeout=10)
            response = call(
                Client(),
                "post",
                f"certificates/{cert.number}/{action}",
                t["decision_maker"],
                {"reason_category": "complaint", "reason": "Complaint"},
                if_match=etag,
            )
            answers.append((response.status_code, response.json().get("code", action)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(a,)) for a in ("suspend", "withdraw")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(status for status, _ in answers) == [200, 412], answers
    refused = next(code for status, code in answers if status == 412)
    assert refused == IF_MATCH_FAILED
    done = next(code for status, code in answers if status == 200)
    cert.refresh_from_db()
    assert cert.status == {"suspend": "suspended", "withdraw": "withdrawn"}[done]
    assert AuditEvent.objects.count() == events + 1


def test_a_certificate_is_reissued_for_a_recorded_change(world: World, client: Client):
    from apcert.organizations.services import organization_rename

    t = tokens(world)
    cert = world.granted()
    read = call(client, "get", f"certificates/{cert.number}", t["decision_maker"])
    assert (
        call(client, "get", f"certificates/{cert.number}/recorded-changes", t["manager"]).json()
        == []
    )
    # The holder renames itself: the certificate shows the new name (another ETag), and
    # may be re-issued for it
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Plating AG")
    renamed = call(client, "get", f"certificates/{cert.number}", t["decision_maker"])
    assert renamed["ETag"] != read["ETag"] and renamed.json()["holder"] == "Plating AG"
    changes = call(client, "get", f"certificates/{cert.number}/recorded-changes", t["manager"])
    assert [c["key"] for c in changes.json()] == ["holder_renamed"]
    path = f"certificates/{cert.number}/reissue"
    refused(
        unchanged(
            lambda: call(
                client,
                "post",
                path,
                t["decision_maker"],
                {"change": "site_moved:1"},
                if_match=renamed["ETag"],
            )
        ),
        400,
        RECORDED_CHANGE_NOT_FOUND,
    )
    refused(
        call(
            client,
            "post",
            path,
            t["decision_maker"],
            {"change": "holder_renamed"},
            if_match=read["ETag"],
        ),
        412,
        IF_MATCH_FAILED,
    )
    done = call(
        client,
        "post",
        path,
        t["decision_maker"],
        {"change": "holder_renamed", "rationale": "New name"},
        if_match=renamed["ETag"],
    )
    assert done.status_code == 200, done.json()
    assert done["ETag"] != renamed["ETag"]
    cert.refresh_from_db()
    assert cert.current_issue_number == 2


def test_a_surveillance_planned_and_decided_over_the_api_takes_if_match(
    world: World, client: Client
):
    t = tokens(world)
    team = world.team
    cert = world.granted()
    start = cert.initial_decision_on + dt.timedelta(days=60)
    plan = {
        "kind": "surveillance",
        "start_date": start.isoformat(),
        "end_date": start.isoformat(),
        "team": [
            {"username": team.lead.username, "role": "lead"},
            {"username": team.assessor.username, "role": "member"},
        ],
    }
    path = f"certificates/{cert.number}/assessments"
    with on_day(start - dt.timedelta(days=10)):
        refused(
            unchanged(
                lambda: call(client, "post", path, t["manager"], {**plan, "kind": "initial"})
            ),
            400,
            INVALID_CHOICE,
        )
        planned = call(client, "post", path, t["manager"], plan)
        assert planned.status_code == 200, planned.json()
        a = planned.json()
        assert (a["kind"], a["certificate"]) == ("surveillance", cert.number)
    with on_day(start):
        assert call(client, "post", f"assessments/{a['id']}/start", t["lead"]).status_code == 200
        reported = call(client, "post", f"assessments/{a['id']}/report", t["lead"], {})
        assert reported.json()["status"] == "report_issued", reported.json()
        etag = call(client, "get", f"certificates/{cert.number}", t["decision_maker"])["ETag"]
        decide = f"assessments/{a['id']}/decision"
        maintain = {"decision": "maintain", "rationale": "Surveillance passed"}
        refused(
            unchanged(lambda: call(client, "post", decide, t["decision_maker"], maintain)),
            428,
            IF_MATCH_REQUIRED,
        )
        refused(
            unchanged(
                lambda: call(
                    client, "post", decide, t["decision_maker"], maintain, if_match='"old"'
                )
            ),
            412,
            IF_MATCH_FAILED,
        )
        done = call(client, "post", decide, t["decision_maker"], maintain, if_match=etag)
        assert done.status_code == 200, done.json()
        body = done.json()
        assert body["assessment"]["status"] == "closed"
        assert done["ETag"] == body["etag"] == body["certificate"]["etag"] != etag
