"""The rest of the lifecycle over the API for integrators: a certificate taken over from
another CB (the transfer review planned by the taker, the transfer decided with If-Match
on the old certificate, whose ETag the taker reads on its review), a finding and an issued
report corrected, and the Secretariat's review before publication (approve, return, and
the CB's new submission). Each with the token of the person whose role the scheme asks
for, each refusal with the service's own code and nothing written; another place's token
reaches none of it, and a read token changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from apcert.accounts.api_tokens import api_token_issue
from apcert.accounts.errors import API_TOKEN_WRITE_SCOPE_REQUIRED
from apcert.api.errors import (
    ASSESSMENT_NOT_FOUND,
    CERTIFICATE_NOT_FOUND,
    FINDING_NOT_FOUND,
    IF_MATCH_FAILED,
    IF_MATCH_REQUIRED,
)
from apcert.assessments.errors import FINDING_GRADE_CHANGE_NOT_ALLOWED, FINDING_NOT_EDITABLE
from apcert.bodies.services import cb_staff_add
from apcert.certificates.errors import CERTIFICATE_TRANSFER_SAME_CB, DECISION_MAKER_ON_TEAM
from apcert.certificates.models import Certificate
from apcert.core.errors import (
    INVALID_REASON_REQUIRED,
    PERMISSION_CB_ROLE_REQUIRED,
    PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
    PERMISSION_SECRETARIAT_REQUIRED,
    PERMISSION_TEAM_MEMBER_REQUIRED,
)
from apcert.organizations.services import organization_rename
from apcert.schemes.services import scheme_publication_review_set
from tests.api_workflow_support import VALID, call, refused, tokens, unchanged
from tests.factories import CBTeam, World, on_day
from tests.flows_support import visit

pytestmark = pytest.mark.django_db

ACCEPTED = dt.date(2020, 1, 1)


def _taker(world: World, code: str = "NEWC") -> tuple[CBTeam, dict[str, str]]:
    """Another CB accepted for the scheme, and a write token of each of its people (each an
    administrator there too, as in :func:`tokens`)."""
    team = World.make_cb(world.secretariat, code, ACCEPTED)
    out = {}
    for name in ("manager", "lead", "decision_maker"):
        person = getattr(team, name)
        cb_staff_add(actor=world.secretariat, cb=team.cb, user=person, role="admin")
        out[name] = api_token_issue(actor=person, name=name, place=team.cb, scope="write").secret
    return team, out


def test_a_certificate_is_transferred_from_another_cb_over_the_api(world: World, client: Client):
    old_tokens = tokens(world)
    cert = world.granted()
    taker, t = _taker(world)
    start = cert.status_since + dt.timedelta(days=30)
    plan = {
        "certificate": cert.number,
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=1)).isoformat(),
        "team": [
            {"username": taker.lead.username, "role": "lead"},
            {"username": taker.assessor.username, "role": "member"},
        ],
    }
    with on_day(start - dt.timedelta(days=10)):
        # The taker does not read the other CB's certificate among its own
        refused(
            call(client, "get", f"certificates/{cert.number}", t["manager"]),
            404,
            "certificate.not_found",
        )
        # Planned by the taking CB, of a published certificate of another CB
        refused(
            unchanged(lambda: call(client, "post", "transfer-reviews", old_tokens["org"], plan)),
            403,
            PERMISSION_CB_ROLE_REQUIRED,
        )
        refused(
            unchanged(
                lambda: call(
                    client,
                    "post",
                    "transfer-reviews",
                    t["manager"],
                    {**plan, "certificate": "IECQ-A X 99.0001"},
                )
            ),
            404,
            CERTIFICATE_NOT_FOUND,
        )
        refused(
            unchanged(
                lambda: call(client, "post", "transfer-reviews", old_tokens["manager"], plan)
            ),
            409,
            CERTIFICATE_TRANSFER_SAME_CB,
        )
        planned = call(client, "post", "transfer-reviews", t["manager"], plan)
        assert planned.status_code == 200, planned.json()
        a = planned.json()
        assert (a["kind"], a["status"], a["cb"], a["certificate"]) == (
            "transfer_review",
            "planned",
            taker.cb.code,
            cert.number,
        )
        seen = a["assessed_certificate"]
        assert (seen["number"], seen["cb"], seen["status"]) == (
            cert.number,
            world.team.cb.code,
            "current",
        )
        # The old CB's token does not read the taker's review
        refused(
            call(client, "get", f"assessments/{a['id']}", old_tokens["manager"]),
            404,
            ASSESSMENT_NOT_FOUND,
        )
    with on_day(start):
        assert call(client, "post", f"assessments/{a['id']}/start", t["lead"]).status_code == 200
    with on_day(start + dt.timedelta(days=1)):
        reported = call(client, "post", f"assessments/{a['id']}/report", t["lead"], {})
        assert reported.json()["status"] == "report_issued", reported.json()
    decided_on = start + dt.timedelta(days=5)
    with on_day(decided_on):
        read = call(client, "get", f"assessments/{a['id']}", t["decision_maker"]).json()
        etag = read["assessed_certificate"]["etag"]
        # The ETag the old CB reads of its certificate
        assert (
            etag
            == call(client, "get", f"certificates/{cert.number}", old_tokens["manager"])["ETag"]
        )
        decide = f"assessments/{a['id']}/decision"
        transfer = {"decision": "transfer", "rationale": "Transfer review satisfactory"}
        refused(
            unchanged(lambda: call(client, "post", decide, t["decision_maker"], transfer)),
            428,
            IF_MATCH_REQUIRED,
        )
        # The lead was on the team: not the decision maker
        refused(
            unchanged(lambda: call(client, "post", decide, t["lead"], transfer, if_match=etag)),
            409,
            DECISION_MAKER_ON_TEAM,
        )
        # The holder renames itself meanwhile: the old certificate's ETag is another
        organization_rename(actor=world.org_user, organization=world.org, legal_name="Plating AG")
        refused(
            unchanged(
                lambda: call(client, "post", decide, t["decision_maker"], transfer, if_match=etag)
            ),
            412,
            IF_MATCH_FAILED,
        )
        again = call(client, "get", f"assessments/{a['id']}", t["decision_maker"]).json()
        fresh = again["assessed_certificate"]["etag"]
        assert fresh != etag and again["assessed_certificate"]["holder"] == "Plating AG"
        key = "5f1c0e2a-transfer-0001"
        done = call(
            client,
            "post",
            decide,
            t["decision_maker"],
            transfer,
            if_match=fresh,
            idempotency_key=key,
        )
        assert done.status_code == 200, done.json()
        body = done.json()
        # A retry with its key answers the same and writes nothing (the ETag it sent is
        # no longer the old certificate's, but the answer is kept)
        again = unchanged(
            lambda: call(
                client,
                "post",
                decide,
                t["decision_maker"],
                transfer,
                if_match=fresh,
                idempotency_key=key,
            )
        )
        assert (again.json(), again["Idempotent-Replayed"]) == (body, "true")
        new = Certificate.objects.get(number=body["certificate"]["number"])
        assert (new.cb_id, new.transferred_from_id, new.status) == (taker.cb.pk, cert.pk, "current")
        assert done["ETag"] == body["etag"] == body["certificate"]["etag"]
        assert body["assessment"]["status"] == "closed"
        # The new certificate is the taker's; the old one ends withdrawn, "transferred"
        mine = call(client, "get", f"certificates/{new.number}", t["manager"])
        assert mine.status_code == 200 and mine["ETag"] == body["etag"]
        old = call(client, "get", f"certificates/{cert.number}", old_tokens["manager"]).json()
        assert old["status"] == "withdrawn"
        refused(
            call(client, "get", f"certificates/{new.number}", old_tokens["manager"]),
            404,
            CERTIFICATE_NOT_FOUND,
        )
        cert.refresh_from_db()
        assert cert.transferred_to == new
        last = cert.status_changes.order_by("-pk").first()
        assert (last.to_status, last.reason_category) == ("withdrawn", "transferred")


def test_a_finding_and_an_issued_report_are_corrected_over_the_api(world: World, client: Client):
    t = tokens(world)
    a = world.assessment(world.accepted_application(), findings=("major",), report=False)
    finding = a.findings.get()
    path = f"findings/{finding.pk}/correct"
    correction = {
        "grade": "minor",
        "requirement_kind": "iso9001",
        "requirement_ref": "ISO 9001:2015 7.5.3",
        "description": "Records incomplete at the plating line",
        "reason": "Graded on the evidence seen on the second day",
    }
    with on_day(a.start_date):
        # A member of the team corrects it, as on the screen
        refused(
            unchanged(lambda: call(client, "post", path, t["manager"], correction)),
            403,
            PERMISSION_TEAM_MEMBER_REQUIRED,
        )
        refused(
            unchanged(
                lambda: call(
                    client, "post", path, t["lead"], {**correction, "grade": "observation"}
                )
            ),
            409,
            FINDING_GRADE_CHANGE_NOT_ALLOWED,
        )
        corrected = call(client, "post", path, t["lead"], correction)
        assert corrected.status_code == 200, corrected.json()
        assert (corrected.json()["grade"], corrected.json()["requirement_ref"]) == (
            "minor",
            "ISO 9001:2015 7.5.3",
        )
        finding.refresh_from_db()
        assert finding.description == "Records incomplete at the plating line"
    with on_day(a.end_date):
        reported = call(
            client, "post", f"assessments/{a.pk}/report", t["lead"], {"summary": "One minor"}
        )
        assert reported.json()["status"] == "report_issued", reported.json()
        # Once the report is issued, the findings stand as reported
        refused(
            unchanged(lambda: call(client, "post", path, t["lead"], correction)),
            409,
            FINDING_NOT_EDITABLE,
        )
        fix = f"assessments/{a.pk}/report/correct"
        new_summary = {"summary": "One minor nonconformity, at the plating line", "reason": "Typo"}
        refused(
            unchanged(lambda: call(client, "post", fix, t["lead"], {**new_summary, "reason": " "})),
            400,
            INVALID_REASON_REQUIRED,
        )
        refused(
            unchanged(lambda: call(client, "post", fix, t["manager"], new_summary)),
            403,
            PERMISSION_TEAM_MEMBER_REQUIRED,
        )
        fixed = call(client, "post", fix, t["lead"], new_summary)
        assert fixed.status_code == 200, fixed.json()
        assert fixed.json()["summary"] == new_summary["summary"]
        assert fixed.json()["report_issued_on"] == reported.json()["report_issued_on"]


def test_the_secretariat_reviews_a_new_certificate_over_the_api(world: World, client: Client):
    t = tokens(world)
    sec = api_token_issue(actor=world.secretariat, name="s", place=None, scope="write").secret
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)
    cert = world.granted()
    assert cert.status == "draft"
    with on_day(cert.status_since):
        pending = call(client, "get", "publication-reviews?status=pending", sec).json()["items"]
        assert [(r["certificate"], r["status"]) for r in pending] == [(cert.number, "pending")]
        ours = call(client, "get", "publication-reviews", t["decision_maker"]).json()["items"]
        assert [r["id"] for r in ours] == [pending[0]["id"]]
        assert call(client, "get", "publication-reviews", t["org"]).json()["items"] == []
        path = f"certificates/{cert.number}/publication"
        first = call(client, "get", f"certificates/{cert.number}", sec)["ETag"]
        give_back = {"reason": "The scope wording names no process"}
        refused(
            unchanged(lambda: call(client, "post", f"{path}/return", sec, give_back)),
            428,
            IF_MATCH_REQUIRED,
        )
        # Only the Secretariat reviews
        refused(
            unchanged(
                lambda: call(
                    client, "post", f"{path}/approve", t["decision_maker"], {}, if_match="*"
                )
            ),
            403,
            PERMISSION_SECRETARIAT_REQUIRED,
        )
        returned = call(client, "post", f"{path}/return", sec, give_back, if_match=first)
        assert returned.status_code == 200, returned.json()
        assert returned.json()["status"] == "draft" and returned["ETag"] != first
        # The CB answers and submits it again, on the certificate as it is now
        answer = {"note": "Scope wording completed"}
        refused(
            unchanged(
                lambda: call(
                    client, "post", f"{path}/resubmit", t["decision_maker"], answer, if_match=first
                )
            ),
            412,
            IF_MATCH_FAILED,
        )
        resubmitted = call(
            client,
            "post",
            f"{path}/resubmit",
            t["decision_maker"],
            answer,
            if_match=returned["ETag"],
        )
        assert resubmitted.status_code == 200, resubmitted.json()
        reviews = call(client, "get", "publication-reviews", sec).json()["items"]
        assert [(r["status"], r["review_note"], r["submission_note"]) for r in reviews] == [
            ("returned", give_back["reason"], ""),
            ("pending", "", answer["note"]),
        ]
        approved = call(
            client, "post", f"{path}/approve", sec, {"note": "Fine"}, if_match=resubmitted["ETag"]
        )
        assert approved.status_code == 200, approved.json()
        assert approved.json()["status"] == "current"
        assert approved["ETag"] == approved.json()["etag"] != resubmitted["ETag"]


#: Every write of this module, with a body each parses.
WRITES = (
    "transfer-reviews",
    "findings/{finding}/correct",
    "assessments/{assessment}/report/correct",
    "certificates/{number}/publication/approve",
    "certificates/{number}/publication/return",
    "certificates/{number}/publication/resubmit",
    "certificates/{number}/record-calendar",
    "applications/{application}/submit",
    "applications/{application}/withdraw",
)
BODY = {**VALID, "certificate": "x", "note": "x"}


def test_a_read_token_changes_nothing_of_the_rest_of_the_lifecycle(world: World, client: Client):
    t = tokens(world, scope="read")
    cert = world.granted()
    a = world.assessment(world.accepted_application(), findings=("major",), report=False)
    for path in WRITES:
        p = path.format(
            finding=a.findings.get().pk,
            assessment=a.pk,
            number=cert.number,
            application=cert.application_id,
        )
        refused(
            unchanged(lambda p=p: call(client, "post", p, t["decision_maker"], BODY, if_match="*")),
            403,
            API_TOKEN_WRITE_SCOPE_REQUIRED,
        )


def test_another_place_reaches_nothing_of_the_rest_of_the_lifecycle(world: World, client: Client):
    """A write token of another CB's administrator who is also staff here, and another
    organization's token: 404 for what is this place's, nothing written, no review listed;
    nor does a third CB read a transfer review, or its old certificate's ETag."""
    live = World.build(cb_code="LIVE").granted()
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)
    cert = world.granted()
    a = world.assessment(world.accepted_application(), findings=("major",), report=False)
    finding = a.findings.get()
    other = World.build(cb_code="NORD")
    admin = other.team.decision_maker
    cb_staff_add(actor=other.secretariat, cb=other.team.cb, user=admin, role="admin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="decision_maker")
    secret = api_token_issue(actor=admin, name="o", place=other.team.cb, scope="write").secret
    org_b = api_token_issue(actor=other.org_user, name="o", place=other.org, scope="write").secret
    codes = {
        "findings/{finding}/correct": FINDING_NOT_FOUND,
        "assessments/{assessment}/report/correct": ASSESSMENT_NOT_FOUND,
        "certificates/{number}/publication/approve": CERTIFICATE_NOT_FOUND,
        "certificates/{number}/publication/return": CERTIFICATE_NOT_FOUND,
        "certificates/{number}/publication/resubmit": CERTIFICATE_NOT_FOUND,
        "certificates/{number}/record-calendar": CERTIFICATE_NOT_FOUND,
    }
    for token in (secret, org_b):
        for path, code in codes.items():
            p = path.format(finding=finding.pk, assessment=a.pk, number=cert.number)
            refused(
                unchanged(lambda p=p, s=token: call(client, "post", p, s, BODY, if_match="*")),
                404,
                code,
            )
        assert call(client, "get", "publication-reviews", token).json()["items"] == []
    # A transfer review by one CB is not read by a third
    taker, t = _taker(world)
    start = live.status_since + dt.timedelta(days=30)
    with on_day(start - dt.timedelta(days=10)):
        planned = call(
            client,
            "post",
            "transfer-reviews",
            t["manager"],
            {
                "certificate": live.number,
                "start_date": start.isoformat(),
                "end_date": start.isoformat(),
                "team": [{"username": taker.lead.username, "role": "lead"}],
            },
        )
        assert planned.status_code == 200, planned.json()
        review = planned.json()["id"]
        for path in (f"assessments/{review}", f"assessments/{review}/decision"):
            method = "get" if path.endswith(str(review)) else "post"
            refused(
                unchanged(lambda p=path, m=method: call(client, m, p, secret, BODY, if_match="*")),
                404,
                ASSESSMENT_NOT_FOUND,
            )


def test_what_the_calendar_did_to_a_certificate_is_recorded_over_the_api(
    world: World, client: Client
):
    cert = Certificate.objects.get(pk=world.granted().pk)
    missed = cert.surveillance_due_by
    assert missed is not None
    path = f"certificates/{cert.number}/record-calendar"
    with on_day(missed + dt.timedelta(days=3)):
        t = tokens(world)
        # Every read shows the suspension the missed surveillance brought, not yet recorded
        before = call(client, "get", f"certificates/{cert.number}", t["manager"])
        assert (before.json()["status"], before.json()["status_recorded"]) == (
            "suspended",
            False,
        )
        # A decision maker of the CB records it (not the holder)
        refused(
            unchanged(lambda: call(client, "post", path, t["org"])),
            403,
            PERMISSION_CB_ROLE_REQUIRED,
        )
        done = call(client, "post", path, t["decision_maker"])
        assert done.status_code == 200, done.json()
        assert (done.json()["status"], done.json()["status_recorded"]) == ("suspended", True)
        assert done["ETag"] == done.json()["etag"] != before["ETag"]
        cert.refresh_from_db()
        assert (cert.status, cert.status_since) == ("suspended", missed + dt.timedelta(days=1))
        # Nothing left to record is not an error, and changes nothing
        again = unchanged(lambda: call(client, "post", path, t["decision_maker"]))
        assert (again.status_code, again["ETag"]) == (200, done["ETag"])


@pytest.mark.postgres_only
def test_a_transfer_and_the_old_cbs_decision_at_once_with_one_etag_one_is_refused(
    live_world: World,
):
    """The taker decides the transfer and the old CB suspends the certificate at the same
    moment, both on the ETag they read: it is checked under the old certificate's lock, so
    the second waits for the first, then finds the certificate changed (412) and writes
    nothing."""
    import threading

    from django.db import connection, connections

    from apcert.audit.models import AuditEvent

    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent connections with row locks (PostgreSQL)")
    world = live_world
    old_tokens = tokens(world)
    cert = world.granted()
    taker, t = _taker(world)
    review = visit(world, cert, "transfer_review", team=taker)
    read = call(Client(), "get", f"assessments/{review.pk}", t["decision_maker"]).json()
    etag = read["assessed_certificate"]["etag"]
    events = AuditEvent.objects.count()
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}
    errors: list[BaseException] = []
    sends = {
        "transfer": (
            f"assessments/{review.pk}/decision",
            t["decision_maker"],
            {"decision": "transfer", "rationale": "Transfer review satisfactory"},
        ),
        "suspend": (
            f"certificates/{cert.number}/suspend",
            old_tokens["decision_maker"],
            {"reason_category": "complaint", "reason": "Complaint"},
        ),
    }

    def send(action: str) -> None:
        path, secret, body = sends[action]
        try:
            barrier.wait(timeout=10)
            response = call(Client(), "post", path, secret, body, if_match=etag)
            answers[action] = response.status_code
            if response.status_code != 200:
                assert response.json()["code"] == IF_MATCH_FAILED
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(a,)) for a in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(answers.values()) == [200, 412], answers
    cert.refresh_from_db()
    if answers["transfer"] == 200:
        assert cert.status == "withdrawn" and cert.transferred_to is not None
    else:
        assert cert.status == "suspended"
        assert not Certificate.objects.filter(transferred_from=cert).exists()
    assert AuditEvent.objects.count() == events + 1


def test_an_organization_submits_and_withdraws_its_application_over_the_api(
    world: World, client: Client
):
    from apcert.applications.errors import (
        APPLICATION_ALREADY_DECIDED,
        APPLICATION_DESIGN_SCOPE_MISSING,
    )
    from apcert.applications.lifecycle import APPLICATION

    t = tokens(world)
    other = World.build(cb_code="NORD")
    org_b = api_token_issue(actor=other.org_user, name="o", place=other.org, scope="write").secret
    read = api_token_issue(actor=world.org_user, name="r", place=world.org, scope="read").secret
    draft = world.draft_application()
    submit = f"applications/{draft.pk}/submit"
    # Another organization's token finds none of it; a read token changes nothing
    refused(unchanged(lambda: call(client, "post", submit, org_b)), 404, "application.not_found")
    refused(
        unchanged(lambda: call(client, "post", submit, read)), 403, API_TOKEN_WRITE_SCOPE_REQUIRED
    )
    # Every rule of the scheme, as on the organization's page
    designed = world.draft_application(design_claimed=True)
    refused(
        unchanged(lambda: call(client, "post", f"applications/{designed.pk}/submit", t["org"])),
        409,
        APPLICATION_DESIGN_SCOPE_MISSING,
    )
    done = call(client, "post", submit, t["org"])
    assert (done.status_code, done.json()["status"]) == (200, "submitted"), done.json()
    refused(
        unchanged(lambda: call(client, "post", submit, t["org"])), 409, APPLICATION.refusal_code
    )
    # The CB's token sees it now, and may not withdraw it for the organization
    withdraw = f"applications/{draft.pk}/withdraw"
    refused(
        unchanged(lambda: call(client, "post", withdraw, t["manager"])),
        403,
        PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
    )
    withdrawn = call(client, "post", withdraw, t["org"], {"reason": "Scope to be redrawn"})
    assert (withdrawn.status_code, withdrawn.json()["status"]) == (200, "withdrawn")
    # Not once a certification decision rests on it
    cert = world.granted()
    refused(
        unchanged(
            lambda: call(client, "post", f"applications/{cert.application_id}/withdraw", t["org"])
        ),
        409,
        APPLICATION_ALREADY_DECIDED,
    )
