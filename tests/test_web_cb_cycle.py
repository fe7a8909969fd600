"""The CB's screens for every assessment of the cycle after the first grant, and for every
decision: plan a surveillance, re-assessment, special visit or scope extension from the
certificate's page; take over another CB's certificate with a transfer review; the decision
screen with its file, its rule check and the decisions of the assessment's kind; a deferral.

For each screen: GET renders, the POST calls the service (the records and the one audit
event written), a refusal shows its reason and writes nothing, pages run a bounded number
of queries.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.models import User
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import assessment_cancel, assessment_plan
from apcert.audit.models import AuditEvent
from apcert.certificates.errors import (
    CERTIFICATE_TRANSFER_NOT_CURRENT,
    CERTIFICATE_TRANSFER_SAME_CB,
    DECISION_BEFORE_REPORT,
    DECISION_NOT_AWAITED,
    DECISION_OPEN_MAJOR,
    VISIT_ALREADY_PLANNED,
    VISIT_CERTIFICATE_ENDED,
    VISIT_CERTIFICATE_NOT_CURRENT,
    VISIT_KIND_NOT_PLANNED_HERE,
)
from apcert.certificates.models import Certificate, Decision, DecisionDeferral
from apcert.certificates.services import certificate_suspend, certificate_withdraw
from apcert.core.errors import INVALID_DATE_ORDER, INVALID_REASON_REQUIRED, INVALID_REQUIRED
from tests.factories import World
from tests.flows_support import DAYS, reported, visit

pytestmark = pytest.mark.django_db

CB = "/office/cb"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    """Today: a few months after the factories' grant (24 March 2026), before the first
    surveillance falls due, so that the certificate is current and its decisions may be
    dated before today."""
    time_machine.move_to(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))


def text(response: HttpResponse) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def field_error(response: HttpResponse, field_id: str) -> str:
    found = re.search(
        rf'<div class="error-text" id="{re.escape(field_id)}_error">(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    assert found, f"no error next to {field_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def audit_count() -> int:
    return AuditEvent.objects.count()


def plan_data(world: World, start: dt.date, **extra: Any) -> dict[str, Any]:
    data = {
        "start_date": start.isoformat(),
        "end_date": (start + DAYS).isoformat(),
        "lead": str(world.team.lead.pk),
        "team": [str(world.team.assessor.pk)],
    }
    data.update(extra)
    return data


@pytest.fixture
def cert(world: World) -> Certificate:
    return world.granted()


@pytest.fixture
def other(world: World) -> World:
    """A second CB, accepted for the same programmes, with its own staff."""
    return World.build()


# --- 1. planning from the certificate's page -------------------------------------------------


def test_the_certificate_page_shows_the_programme_and_offers_each_kind(
    client: Client, world: World, cert: Certificate
) -> None:
    page = login(client, world.team.manager).get(f"{CB}/certificates/{cert.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    for kind in ("surveillance", "reassessment", "special", "scope_extension"):
        assert f'href="{CB}/certificates/{cert.pk}/plan/{kind}"' in body
    shown = text(page)
    assert "The audit programme of this cycle" in shown
    assert "Surveillance 1 24 March 2027" in shown
    assert "No assessment of this certificate yet." in shown
    # a decision maker reads what may be planned, without the links
    page = login(Client(), world.team.decision_maker).get(f"{CB}/certificates/{cert.pk}/")
    assert f"{CB}/certificates/{cert.pk}/plan/" not in page.content.decode()
    assert "A surveillance may be planned (by a scheme manager)" in text(page)


def test_the_scheme_manager_plans_a_surveillance_in_its_window(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.manager)
    form = client.get(f"{CB}/certificates/{cert.pk}/plan/surveillance")
    assert form.status_code == 200
    shown = text(form)
    assert "Surveillance 1 of this cycle is due on 24 March 2027" in shown
    assert re.search(r"between \d+ \w+ 2027 and \d+ \w+ 2027", shown)
    # the first day is proposed from the programme's due date
    assert 'value="2027-03-24"' in form.content.decode()
    before = audit_count()

    start = dt.date(2027, 3, 20)
    response = client.post(
        f"{CB}/certificates/{cert.pk}/plan/surveillance", plan_data(world, start), follow=True
    )
    a = Assessment.objects.get(certificate=cert)
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/", 302)]
    assert f"The surveillance of {cert.number} is planned." in text(response)
    assert (a.kind, a.status, a.cb_id, a.start_date) == (
        "surveillance",
        "planned",
        cert.cb_id,
        start,
    )
    assert sorted(a.team.values_list("role", flat=True)) == ["lead", "member"]
    assert audit_count() == before + 1
    assert AuditEvent.objects.latest("seq").action == "assessment.plan"


@pytest.mark.parametrize("kind", ["reassessment", "special", "scope_extension"])
def test_each_kind_is_planned_from_its_page_with_its_rules(
    client: Client, world: World, cert: Certificate, kind: str
) -> None:
    login(client, world.team.manager)
    page = client.get(f"{CB}/certificates/{cert.pk}/plan/{kind}")
    assert page.status_code == 200
    rules = {
        "reassessment": "The renewal must be decided before the certificate expires",
        "special": "No decision rests on it by itself",
        "scope_extension": f"inside {cert.cb.code}'s IECQ acceptance",
    }
    assert rules[kind] in text(page)
    assert "stage 1" not in text(page)  # only an initial assessment has one
    response = client.post(
        f"{CB}/certificates/{cert.pk}/plan/{kind}", plan_data(world, dt.date(2026, 6, 10))
    )
    assert response.status_code == 302
    assert Assessment.objects.get(certificate=cert).kind == kind


def test_the_service_s_refusal_shows_next_to_the_field(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.manager)
    before = audit_count()
    data = plan_data(world, dt.date(2026, 6, 10), end_date="2026-06-09")
    response = client.post(f"{CB}/certificates/{cert.pk}/plan/special", data)
    assert response.status_code == 400
    assert field_error(response, "id_end_date") == "The assessment cannot end before it starts."
    assert not Assessment.objects.filter(certificate=cert).exists()
    assert audit_count() == before


def test_a_suspended_certificate_offers_a_special_visit_and_says_why_not_the_rest(
    client: Client, world: World, cert: Certificate
) -> None:
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Customer complaint",
        decided_on=dt.date(2026, 5, 1),
    )
    login(client, world.team.manager)
    page = client.get(f"{CB}/certificates/{cert.pk}/")
    body, shown = page.content.decode(), text(page)
    assert f'href="{CB}/certificates/{cert.pk}/plan/special"' in body
    assert f'href="{CB}/certificates/{cert.pk}/plan/surveillance"' not in body
    assert "No surveillance now:" in shown
    assert "Plan a special visit to check that the cause of the suspension is resolved" in shown
    assert "Restore it first" in shown

    plan = client.get(f"{CB}/certificates/{cert.pk}/plan/surveillance")
    assert f"({VISIT_CERTIFICATE_NOT_CURRENT})" in text(plan)
    assert 'name="lead"' not in plan.content.decode()
    before = audit_count()
    refused = client.post(
        f"{CB}/certificates/{cert.pk}/plan/reassessment", plan_data(world, dt.date(2026, 6, 10))
    )
    assert refused.status_code == 409
    assert "a re-assessment leads to the renewal" in text(refused)
    assert not Assessment.objects.filter(certificate=cert).exists()
    assert audit_count() == before


def test_nothing_is_planned_on_a_withdrawn_certificate(
    client: Client, world: World, cert: Certificate
) -> None:
    certificate_withdraw(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="Mark misused",
        decided_on=dt.date(2026, 5, 1),
    )
    login(client, world.team.manager)
    page = client.get(f"{CB}/certificates/{cert.pk}/plan/special")
    assert f"({VISIT_CERTIFICATE_ENDED})" in text(page)
    assert "The holder applies again" in text(page)
    page = client.get(f"{CB}/certificates/{cert.pk}/")
    assert f"{CB}/certificates/{cert.pk}/plan/" not in page.content.decode()
    # said once for every kind
    assert text(page).count("nothing more is planned on it") == 1


def test_a_second_surveillance_waits_for_the_first(
    client: Client, world: World, cert: Certificate
) -> None:
    first = visit(world, cert, "surveillance", report=False)
    login(client, world.team.manager)
    page = client.get(f"{CB}/certificates/{cert.pk}/plan/surveillance")
    assert f"Surveillance {first.pk} is already in progress" in text(page)
    assert f"({VISIT_ALREADY_PLANNED})" in text(page)
    response = client.post(
        f"{CB}/certificates/{cert.pk}/plan/surveillance", plan_data(world, dt.date(2026, 7, 1))
    )
    assert response.status_code == 409
    assert Assessment.objects.filter(certificate=cert).count() == 1
    # a special visit is not held back by it
    assert (
        client.post(
            f"{CB}/certificates/{cert.pk}/plan/special", plan_data(world, dt.date(2026, 7, 1))
        ).status_code
        == 302
    )


@pytest.mark.parametrize("who", ["decision_maker", "lead"])
def test_only_a_scheme_manager_plans_on_a_certificate(
    client: Client, world: World, cert: Certificate, who: str
) -> None:
    login(client, getattr(world.team, who))
    before = audit_count()
    url = f"{CB}/certificates/{cert.pk}/plan/special"
    assert client.get(url).status_code == 403
    assert client.post(url, plan_data(world, dt.date(2026, 6, 10))).status_code == 403
    assert not Assessment.objects.filter(certificate=cert).exists()
    assert audit_count() == before


def test_another_cb_s_certificate_and_other_kinds_are_404(
    client: Client, world: World, other: World, cert: Certificate
) -> None:
    theirs = other.granted()
    login(client, world.team.manager)
    assert client.get(f"{CB}/certificates/{theirs.pk}/plan/special").status_code == 404
    for kind in ("initial", "transfer_review", "nonsense"):
        assert client.get(f"{CB}/certificates/{cert.pk}/plan/{kind}").status_code == 404


def test_the_certificate_and_plan_pages_run_a_bounded_number_of_queries(
    client: Client, world: World, cert: Certificate, django_assert_max_num_queries: Any
) -> None:
    login(client, world.team.manager)
    client.get(f"{CB}/certificates/{cert.pk}/")  # the session, once
    for _ in range(4):
        visit(world, cert, "special")
    with django_assert_max_num_queries(40):
        assert client.get(f"{CB}/certificates/{cert.pk}/").status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(f"{CB}/certificates/{cert.pk}/plan/special").status_code == 200


def test_the_dashboard_links_cb_staff_to_plan_the_visit_due(
    client: Client, world: World, cert: Certificate, time_machine: Any
) -> None:
    time_machine.move_to(dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC))
    page = login(client, world.team.manager).get("/office/").content.decode()
    assert f'href="{CB}/certificates/{cert.pk}/plan/surveillance"' in page
    assert f'href="{CB}/certificates/{cert.pk}/"' in page
    # an assessor of the CB goes to the certificate's page, but does not plan
    page = login(Client(), world.team.lead).get("/office/").content.decode()
    assert f'href="{CB}/certificates/{cert.pk}/"' in page
    assert f"{CB}/certificates/{cert.pk}/plan/" not in page


# --- 2. transfer in and out ------------------------------------------------------------------


def test_another_cb_takes_over_a_certificate_with_a_transfer_review(
    client: Client, world: World, other: World, cert: Certificate
) -> None:
    login(client, other.team.manager)
    page = client.get(f"{CB}/transfers/take-over")
    assert page.status_code == 200
    assert "Certificate number" in text(page)
    found = client.get(f"{CB}/transfers/take-over", {"number": f" {cert.number.lower()} "})
    shown = text(found)
    assert found.status_code == 200
    assert f"Holder {world.org.legal_name} (DE)" in shown
    assert f"Certification body {cert.cb.code} {cert.cb.name}" in shown
    assert "Status Current Expires 23 March 2029" in shown
    assert f"Plan the transfer review by {other.team.cb.code}" in shown
    before = audit_count()

    response = client.post(
        f"{CB}/transfers/take-over",
        {"number": cert.number, "cb": str(other.team.cb.pk)}
        | plan_data(
            other,
            dt.date(2026, 6, 15),
            lead=str(other.team.lead.pk),
            team=[str(other.team.assessor.pk)],
        ),
        follow=True,
    )
    a = Assessment.objects.get(certificate=cert)
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/", 302)]
    assert (a.kind, a.cb_id) == ("transfer_review", other.team.cb.pk)
    assert audit_count() == before + 1
    # its page names the certificate by its public record: it is another CB's
    assert f"{cert.number} in the register" in text(response)

    # Transfer out: the releasing CB's certificate page says so
    page = login(Client(), world.team.manager).get(f"{CB}/certificates/{cert.pk}/")
    assert f"Transfer out: {other.team.cb.code} {other.team.cb.name} plans a transfer review" in (
        text(page)
    )
    # and the taking CB sees its review when it looks the certificate up again
    again = client.get(f"{CB}/transfers/take-over", {"number": cert.number})
    assert f"A transfer review by {other.team.cb.code} is planned" in text(again)


def test_a_cb_does_not_take_over_its_own_certificate(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.manager)
    page = client.get(f"{CB}/transfers/take-over", {"number": cert.number})
    assert f"({CERTIFICATE_TRANSFER_SAME_CB})" in text(page)
    assert 'name="lead"' not in page.content.decode()
    before = audit_count()
    response = client.post(
        f"{CB}/transfers/take-over",
        {"number": cert.number} | plan_data(world, dt.date(2026, 6, 15)),
    )
    assert response.status_code == 409
    assert not Assessment.objects.filter(certificate=cert).exists()
    assert audit_count() == before


def test_a_suspended_certificate_is_not_taken_over(
    client: Client, world: World, other: World, cert: Certificate
) -> None:
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="unpaid_fees",
        reason="Invoice unpaid",
        decided_on=dt.date(2026, 5, 1),
    )
    page = login(client, other.team.manager).get(
        f"{CB}/transfers/take-over", {"number": cert.number}
    )
    assert f"({CERTIFICATE_TRANSFER_NOT_CURRENT})" in text(page)
    assert "only a current certificate can be transferred" in text(page)


def test_a_cb_not_accepted_for_the_programme_is_told_before_it_plans(
    client: Client, world: World, cert: Certificate
) -> None:
    esd_only = World.make_cb(world.secretariat, "ESDONLY", dt.date(2020, 1, 1), ("AP-ESD",))
    page = login(client, esd_only.manager).get(f"{CB}/transfers/take-over", {"number": cert.number})
    assert "(decision.cb_not_accepted)" in text(page)


def test_an_unknown_number_or_a_draft_is_not_found(
    client: Client, world: World, other: World
) -> None:
    login(client, other.team.manager)
    response = client.get(f"{CB}/transfers/take-over", {"number": "IECQ-A XX 26.9999"})
    assert response.status_code == 404
    assert "No published certificate has the number IECQ-A XX 26.9999." in text(response)
    before = audit_count()
    response = client.post(
        f"{CB}/transfers/take-over", {"number": "IECQ-A XX 26.9999"} | plan_data(other, TODAY)
    )
    assert response.status_code == 404
    assert audit_count() == before


def test_staff_who_do_not_plan_may_look_but_not_plan_a_transfer_review(
    client: Client, world: World, other: World, cert: Certificate
) -> None:
    login(client, other.team.decision_maker)
    page = client.get(f"{CB}/transfers/take-over", {"number": cert.number})
    assert "Only a scheme manager of a certification body plans a transfer review." in text(page)
    before = audit_count()
    response = client.post(
        f"{CB}/transfers/take-over", {"number": cert.number} | plan_data(other, TODAY)
    )
    assert response.status_code == 403
    assert audit_count() == before
    # and the page is the CB section's: refused to an organization user
    assert login(Client(), world.org_user).get(f"{CB}/transfers/take-over").status_code == 403


def test_after_the_review_the_decision_screen_transfers_the_certificate(
    client: Client, world: World, other: World, cert: Certificate
) -> None:
    review = visit(world, cert, "transfer_review", team=other.team)
    login(client, other.team.decision_maker)
    page = client.get(f"{CB}/assessments/{review.pk}/decision")
    assert page.status_code == 200
    shown = text(page)
    assert "Transfer the certificate" in shown
    assert "Every rule is met" in shown
    decided_on = reported(review) + 5 * DAYS
    response = client.post(
        f"{CB}/assessments/{review.pk}/decision",
        {
            "decision": "transfer",
            "transfer-decided_on": decided_on.isoformat(),
            "transfer-rationale": "Review satisfactory",
        },
        follow=True,
    )
    new = Certificate.objects.get(transferred_from=cert)
    assert response.redirect_chain == [(f"{CB}/certificates/{new.pk}/", 302)]
    assert f"{cert.number} is transferred to {other.team.cb.code}: it is now {new.number}." in (
        text(response)
    )
    assert f"Transferred from {cert.number} ({cert.cb.code})" in text(response)
    old = Certificate.objects.get(pk=cert.pk)
    assert (old.status, new.status, new.cb_id) == ("withdrawn", "current", other.team.cb.pk)
    # the releasing CB's page shows it transferred
    page = login(Client(), world.team.manager).get(f"{CB}/certificates/{cert.pk}/")
    assert f"Transferred to {other.team.cb.code} on" in text(page)
    assert f"it is now {new.number}" in text(page)
    assert "Transfer out" not in text(page)  # the review is decided: no longer under way


# --- 3. one initial assessment to an application ---------------------------------------------


def test_the_application_offers_its_initial_assessment_once(client: Client, world: World) -> None:
    app = world.accepted_application()
    login(client, world.team.manager)
    assert f'href="{CB}/applications/{app.pk}/plan"' in (
        client.get(f"{CB}/applications/{app.pk}/").content.decode()
    )
    a = assessment_plan(
        actor=world.team.manager,
        kind="initial",
        application=app,
        start_date=dt.date(2026, 6, 10),
        end_date=dt.date(2026, 6, 11),
        team=[(world.team.lead, "lead")],
    )
    page = client.get(f"{CB}/applications/{app.pk}/")
    assert f'href="{CB}/applications/{app.pk}/plan"' not in page.content.decode()
    assert "This application already has its initial assessment" in text(page)
    before = audit_count()
    refused = client.get(f"{CB}/applications/{app.pk}/plan")
    assert refused.status_code == 409
    assert "Another is planned only once that one is cancelled" in text(refused)
    # a crafted POST gets the service's own refusal
    data = {
        "start_date": "2026-07-01",
        "end_date": "2026-07-02",
        "lead": str(world.team.lead.pk),
    }
    refused = client.post(f"{CB}/applications/{app.pk}/plan", data)
    assert refused.status_code == 409
    assert "Another is planned only once that one is cancelled" in text(refused)
    assert Assessment.objects.filter(application=app).count() == 1
    assert audit_count() == before
    # cancelled, it is offered again
    assessment_cancel(actor=world.team.manager, assessment=a, reason="Plant closed that week")
    assert f'href="{CB}/applications/{app.pk}/plan"' in (
        client.get(f"{CB}/applications/{app.pk}/").content.decode()
    )


def test_a_decided_application_offers_no_initial_assessment(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.manager)
    page = client.get(f"{CB}/applications/{cert.application_id}/")
    assert "A certification decision has been taken on this application" in text(page)
    response = client.get(f"{CB}/applications/{cert.application_id}/plan")
    assert response.status_code == 409
    assert "its initial assessment cannot be planned again" in text(response)


# --- 4. the decision screen --------------------------------------------------------------------


def test_the_decision_screen_shows_the_file_and_every_rule(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application(), findings=("major", "minor", "observation"))
    major = a.findings.get(grade="major")
    world.review(world.answer(major), "reject")
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert page.status_code == 200
    shown = text(page)
    # the application and its scope
    assert "EPL process at the main plant" in shown
    # the team with its roles, the report
    assert f"{world.team.lead}: lead assessor" in shown
    assert f"{world.team.assessor}: team member" in shown
    assert f"Report issued {a.report_issued_on.day} " in shown  # type: ignore[union-attr]
    # every finding, its answer and the review
    assert "major nonconformity against ISO 9001:2015 8.5.1: open" in shown
    assert "minor nonconformity against ISO 9001:2015 8.5.1: open" in shown
    assert "observation against ISO 9001:2015 8.5.1: closed (verified)" in shown
    assert "Correction Records completed" in shown
    assert f"by {world.team.lead}: Root cause not shown" in shown
    # each rule in words, passed or failed
    assert "Met: Independence: the decision maker was not on the assessment team" in shown
    assert "Not met: No major nonconformity is open" in shown
    assert "Met: The scope is inside the certification body's IECQ acceptance" in shown
    assert "Met: Every declared standard is current and accepted for IECQ" in shown
    assert f"({DECISION_OPEN_MAJOR})" in shown
    # both decisions of an initial assessment, the forms shown
    body = page.content.decode()
    assert 'name="decision" value="grant"' in body
    assert 'name="decision" value="refuse"' in body


def test_a_grant_refused_by_a_rule_keeps_the_form_with_the_reason(
    client: Client, world: World
) -> None:
    a = world.assessment(world.accepted_application(), findings=("major",))
    login(client, world.team.decision_maker)
    before = audit_count()
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "grant", "grant-decided_on": reported(a).isoformat()},
    )
    assert response.status_code == 409
    assert "1 major nonconformity is still open" in text(response)
    assert 'name="decision" value="grant"' in response.content.decode()
    assert not Certificate.objects.exists()
    assert audit_count() == before


def test_a_decision_dated_before_the_report_says_how_to_go_on(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application())
    login(client, world.team.decision_maker)
    before = audit_count()
    day_before = reported(a) - DAYS
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "grant", "grant-decided_on": day_before.isoformat()},
    )
    assert response.status_code == 409
    shown = text(response)
    assert f"({DECISION_BEFORE_REPORT})" in shown
    # the rules are checked for the date asked, and the way forward is said
    assert f"Rules checked for a decision on {day_before.day} " in shown
    assert "its lead assessor corrects it first: Correct the report" in shown
    assert f'href="{CB}/assessments/{a.pk}/report/correct?from=decision"' in (
        response.content.decode()
    )
    assert not Certificate.objects.exists()
    assert audit_count() == before


def test_the_decision_maker_refuses_certification(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application(), findings=("major",))
    login(client, world.team.decision_maker)
    before = audit_count()
    missing = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "refuse", "refuse-rationale": " "},
    )
    assert missing.status_code == 400
    assert field_error(missing, "id_refuse-rationale") == "Say why certification is refused."
    assert audit_count() == before

    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "refuse", "refuse-rationale": "Major not corrected in time"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/applications/{a.application_id}/", 302)]
    assert f"Certification is refused on application {a.application_id}." in text(response)
    decision = Decision.objects.get(assessment=a)
    assert (decision.kind, decision.rationale) == ("refuse", "Major not corrected in time")
    assert not Certificate.objects.exists()
    assert audit_count() == before + 1
    # decided: the screen says so, and offers no form
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert "Decided: refuse on" in text(page)
    assert 'name="decision"' not in page.content.decode()


def test_after_a_surveillance_the_decision_maker_maintains_certification(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "surveillance", findings=("minor",))
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    shown = text(page)
    assert "Maintain certification" in shown
    assert "(decision.minor_without_plan)" in shown
    assert "suspend the certificate instead" in shown
    assert f'href="{CB}/certificates/{cert.pk}/"' in page.content.decode()
    before = audit_count()
    refused = client.post(
        f"{CB}/assessments/{a.pk}/decision", {"decision": "maintain", "maintain-decided_on": ""}
    )
    assert refused.status_code == 409
    assert "1 minor nonconformity has no accepted corrective action plan yet." in text(refused)
    assert audit_count() == before

    world.resolve_findings(a)
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {
            "decision": "maintain",
            "maintain-decided_on": (reported(a) + 20 * DAYS).isoformat(),
            "maintain-rationale": "Plan accepted",
        },
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/certificates/{cert.pk}/", 302)]
    assert f"Certification is maintained: {cert.number}." in text(response)
    assert Decision.objects.get(assessment=a).kind == "maintain"
    assert Assessment.objects.get(pk=a.pk).status == "closed"
    assert Certificate.objects.get(pk=cert.pk).status == "current"


def test_after_a_re_assessment_the_certificate_is_renewed(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "reassessment")
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    shown = text(page)
    assert "Renew the certificate" in shown
    assert "There is no refusal of a renewal" in shown
    assert f"expires on {cert.expires_on.day} " in shown
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "renew", "renew-decided_on": (reported(a) + 5 * DAYS).isoformat()},
        follow=True,
    )
    renewed = Certificate.objects.get(pk=cert.pk)
    assert response.redirect_chain == [(f"{CB}/certificates/{cert.pk}/", 302)]
    assert renewed.expires_on > cert.expires_on
    assert renewed.current_issue_number == 2
    assert f"{cert.number} is renewed: valid until" in text(response)


def _scope_data(world: World, decision: str, **line: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "decision": "scope",
        "scope-decision": decision,
        "scope-decided_on": "2026-05-20",
        "scope-rationale": "",
    }
    data.update({f"line1-{k}": v for k, v in line.items()})
    return data


def test_after_a_scope_extension_the_scope_is_extended_with_the_lines_chosen(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "scope_extension")
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    body = page.content.decode()
    assert "Extend the scope or add a site" in text(page)
    assert "(checked on the lines you add)" in text(page)
    assert 'name="line1-category"' in body and 'name="line3-standards"' in body
    assert f'<option value="{world.site.pk}">Main plant, Dresden (on the certificate)' in body
    assert f'<option value="{world.site2.pk}">Second plant, Leipzig (new)' in body

    # a row begun without its site cannot be read as a line
    before = audit_count()
    partial = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        _scope_data(world, "extend_scope", category="PWB", wording="Boards"),
    )
    assert partial.status_code == 400
    assert field_error(partial, "id_line1-site") == "Choose the site of this scope line."
    # no line at all: the service's refusal, above the form
    empty = client.post(f"{CB}/assessments/{a.pk}/decision", _scope_data(world, "extend_scope"))
    assert empty.status_code == 400
    assert "Give at least one scope line to add." in text(empty)
    assert audit_count() == before

    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        _scope_data(
            world,
            "extend_scope",
            category="PWB",
            site=str(world.site.pk),
            wording="Printed board fabrication at the main plant",
            standards=["ISO 9001:2015"],
        ),
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/certificates/{cert.pk}/", 302)]
    assert f"{cert.number}: the scope is extended (issue 2)." in text(response)
    issue = Certificate.objects.get(pk=cert.pk).issues.get(issue_number=2)
    assert [line["category"] for line in issue.scope_lines] == ["EPL", "PWB"]
    assert INVALID_REQUIRED == "invalid.required"


def test_a_site_is_added_after_a_scope_extension(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "scope_extension")
    login(client, world.team.decision_maker)
    wrong = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        _scope_data(
            world,
            "site_add",
            category="PWB",
            site=str(world.site.pk),
            wording="Boards",
            standards=["ISO 9001:2015"],
        ),
    )
    assert wrong.status_code == 409
    assert "Main plant is already on the certificate: extend the scope instead." in text(wrong)
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        _scope_data(
            world,
            "site_add",
            category="PWB",
            site=str(world.site2.pk),
            wording="Printed board fabrication at the second plant",
            standards=["ISO 9001:2015"],
        ),
    )
    assert response.status_code == 302
    issue = Certificate.objects.get(pk=cert.pk).issues.get(issue_number=2)
    assert issue.reason == "site_change"


def test_a_special_visit_supports_no_decision_of_its_own(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "special")
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert "A special visit supports no certification decision by itself" in text(page)
    assert 'name="decision"' not in page.content.decode()
    before = audit_count()
    response = client.post(f"{CB}/assessments/{a.pk}/decision", {"decision": "maintain"})
    assert response.status_code == 409
    assert "a special visit informs a decision on the certificate's status" in text(response)
    assert audit_count() == before


def test_a_decision_the_kind_does_not_support_is_refused(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "surveillance")
    login(client, world.team.decision_maker)
    response = client.post(f"{CB}/assessments/{a.pk}/decision", {"decision": "grant"})
    assert response.status_code == 409
    assert "A surveillance supports no such decision; it supports: Maintain certification." in (
        text(response)
    )
    assert not Decision.objects.filter(assessment=a).exists()


def test_the_decision_screen_runs_a_bounded_number_of_queries(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    a = world.assessment(world.accepted_application(), findings=("minor",))
    world.resolve_findings(a)
    login(client, world.team.decision_maker)
    client.get(f"{CB}/assessments/{a.pk}/decision")

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{CB}/assessments/{a.pk}/decision").status_code == 200
        return len(queries)

    few = count()
    for number in range(2, 8):
        Finding.objects.create(
            assessment=a,
            number=number,
            grade="observation",
            requirement_kind="iso9001",
            requirement_ref="7.1",
            description="noted",
            status="closed",
            raised_on=a.start_date,
            due_date=a.start_date,
        )
    world.resolve_findings(world.assessment(world.accepted_application(), findings=("minor",)))
    assert count() == few
    with django_assert_max_num_queries(60):
        client.get(f"{CB}/assessments/{a.pk}/decision")


# --- the deferral ------------------------------------------------------------------------------


def test_the_decision_maker_defers_the_decision(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "surveillance", findings=("major",))
    login(client, world.team.decision_maker)
    before = audit_count()
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision/defer",
        {"defer-until": "2026-07-15", "defer-reason": "Awaiting the verification visit"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/decision", 302)]
    assert "The decision is deferred until 15 July 2026." in text(response)
    assert (
        f"Decision deferred on 1 June 2026 by {world.team.decision_maker} until 15 July 2026 : "
        "Awaiting the verification visit" in text(response)
    )
    deferral = DecisionDeferral.objects.get(assessment=a)
    assert (deferral.deferred_on, deferral.until) == (TODAY, dt.date(2026, 7, 15))
    assert audit_count() == before + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == ("assessment.decision_defer", str(a.pk))
    assert Assessment.objects.get(pk=a.pk).status == "report_issued"
    # shown on the assessment's page too
    page = client.get(f"{CB}/assessments/{a.pk}/")
    assert "On 1 June 2026 by" in text(page) and "until 15 July 2026" in text(page)


def test_a_deferral_needs_a_reason_and_a_later_day(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "surveillance")
    login(client, world.team.decision_maker)
    before = audit_count()
    response = client.post(f"{CB}/assessments/{a.pk}/decision/defer", {"defer-until": "2026-07-15"})
    assert response.status_code == 400
    assert field_error(response, "id_defer-reason") == (
        "Say why the decision is deferred, for the record."
    )
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision/defer",
        {"defer-until": "2026-05-15", "defer-reason": "Waiting"},
    )
    assert response.status_code == 400
    assert field_error(response, "id_defer-until").startswith(
        "A decision deferred on 1 June 2026 is deferred to a later day"
    )
    assert not DecisionDeferral.objects.exists()
    assert audit_count() == before


def test_no_deferral_when_no_decision_is_awaited_or_by_another_role(
    client: Client, world: World, cert: Certificate
) -> None:
    a = visit(world, cert, "surveillance", report=False)
    data = {"defer-until": "2026-07-15", "defer-reason": "Waiting"}
    before = audit_count()
    response = login(client, world.team.decision_maker).post(
        f"{CB}/assessments/{a.pk}/decision/defer", data
    )
    assert response.status_code == 409
    assert "No decision is awaited on this surveillance" in text(response)
    response = login(Client(), world.team.manager).post(
        f"{CB}/assessments/{a.pk}/decision/defer", data
    )
    assert response.status_code == 403
    assert not DecisionDeferral.objects.exists()
    assert audit_count() == before


# --- the domain behind the screens --------------------------------------------------------------


def test_the_rule_check_names_the_code_the_service_refuses_with(
    world: World, cert: Certificate
) -> None:
    """The screen's rule check and the service agree: the service refuses with the first
    problem the check lists."""
    from apcert.certificates.decision_checks import decision_check
    from apcert.certificates.services import certificate_maintain
    from apcert.core.errors import DomainError

    a = visit(world, cert, "surveillance", findings=("major", "minor"))
    on = reported(a) + 5 * DAYS
    check = decision_check(
        actor=world.team.decision_maker, assessment=a, decision="maintain", on=on
    )
    assert check.codes == ["decision.open_major", "decision.minor_without_plan"]
    assert [r.key for r in check.rules if not r.passed] == ["majors", "minors"]
    with pytest.raises(DomainError) as exc:
        certificate_maintain(
            actor=world.team.decision_maker, certificate=cert, assessment=a, decided_on=on
        )
    assert exc.value.code == check.codes[0]
    # an assessor is no decision maker: the role is the first rule the lead fails
    lead = decision_check(actor=world.team.lead, assessment=a, decision="maintain", on=on)
    assert lead.codes[0] == "permission.cb_role_required"


def test_the_deferral_service_writes_one_record_and_one_event(
    world: World, cert: Certificate
) -> None:
    from apcert.certificates.services import assessment_decision_defer
    from apcert.core.errors import DomainError

    a = visit(world, cert, "surveillance")
    deferral = assessment_decision_defer(
        actor=world.team.decision_maker,
        assessment=a,
        reason="Technical opinion requested",
        until=dt.date(2026, 6, 30),
    )
    assert deferral.deferred_on == TODAY
    events = list(AuditEvent.objects.filter(action="assessment.decision_defer"))
    assert len(events) == 1
    for kwargs, code in (
        ({"reason": "", "until": dt.date(2026, 6, 30)}, INVALID_REASON_REQUIRED),
        ({"reason": "Later", "until": TODAY}, INVALID_DATE_ORDER),
    ):
        with pytest.raises(DomainError) as exc:
            assessment_decision_defer(actor=world.team.decision_maker, assessment=a, **kwargs)
        assert exc.value.code == code
    closed = visit(world, cert, "surveillance", start=TODAY - 20 * DAYS)
    world.resolve_findings(closed)
    from apcert.certificates.services import certificate_maintain

    certificate_maintain(
        actor=world.team.decision_maker,
        certificate=cert,
        assessment=closed,
        decided_on=TODAY,
    )
    with pytest.raises(DomainError) as exc:
        assessment_decision_defer(
            actor=world.team.decision_maker,
            assessment=closed,
            reason="Too late",
            until=dt.date(2026, 6, 30),
        )
    assert exc.value.code == DECISION_NOT_AWAITED
    assert DecisionDeferral.objects.count() == 1


def test_a_visit_is_planned_by_the_certificate_s_own_cb_and_of_a_kind_that_follows(
    world: World, other: World, cert: Certificate
) -> None:
    from apcert.certificates.planning import visit_plan_problems

    for kind, cb in (("surveillance", other.team.cb), ("initial", world.team.cb)):
        [problem] = visit_plan_problems(certificate=cert, kind=kind, cb=cb, on=TODAY)
        assert problem.code == VISIT_KIND_NOT_PLANNED_HERE
    assert visit_plan_problems(certificate=cert, kind="special", cb=world.team.cb, on=TODAY) == []
    review = visit_plan_problems(
        certificate=cert, kind="transfer_review", cb=other.team.cb, on=TODAY
    )
    assert review == []


# --- 5. the dates of a planned assessment, the date of an issued report ------------------------


def test_the_scheme_manager_changes_the_dates_of_a_planned_assessment(
    client: Client, world: World, cert: Certificate
) -> None:
    a = assessment_plan(
        actor=world.team.manager,
        kind="surveillance",
        certificate=cert,
        start_date=dt.date(2026, 6, 10),
        end_date=dt.date(2026, 6, 11),
        team=[(world.team.lead, "lead")],
    )
    login(client, world.team.manager)
    page = client.get(f"{CB}/assessments/{a.pk}/")
    assert f'href="{CB}/assessments/{a.pk}/dates"' in page.content.decode()
    # the plan page of a second surveillance leads there too
    plan = client.get(f"{CB}/certificates/{cert.pk}/plan/surveillance").content.decode()
    assert f'href="{CB}/assessments/{a.pk}/dates"' in plan
    form = client.get(f"{CB}/assessments/{a.pk}/dates")
    assert form.status_code == 200
    assert 'value="2026-06-10"' in form.content.decode()
    before = audit_count()

    missing = client.post(
        f"{CB}/assessments/{a.pk}/dates", {"start_date": "2026-06-17", "end_date": "2026-06-18"}
    )
    assert missing.status_code == 400
    assert field_error(missing, "id_reason") == "Say why the assessment is rescheduled."
    same = client.post(
        f"{CB}/assessments/{a.pk}/dates",
        {"start_date": "2026-06-10", "end_date": "2026-06-11", "reason": "No change"},
    )
    assert same.status_code == 409
    assert field_error(same, "id_start_date").startswith("The assessment is already planned")
    assert audit_count() == before

    response = client.post(
        f"{CB}/assessments/{a.pk}/dates",
        {"start_date": "17 June 2026", "end_date": "2026-06-18", "reason": "Holder's request"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/", 302)]
    assert "The surveillance is now planned from 17 June 2026 to 18 June 2026." in text(response)
    a.refresh_from_db()
    assert (a.start_date, a.end_date) == (dt.date(2026, 6, 17), dt.date(2026, 6, 18))
    assert audit_count() == before + 1
    assert AuditEvent.objects.latest("seq").action == "assessment.reschedule"


def test_the_dates_of_a_started_assessment_stay_and_only_a_manager_changes_them(
    client: Client, world: World, cert: Certificate
) -> None:
    started = visit(world, cert, "special", report=False)
    login(client, world.team.manager)
    assert f"{CB}/assessments/{started.pk}/dates" not in (
        client.get(f"{CB}/assessments/{started.pk}/").content.decode()
    )
    refused = client.get(f"{CB}/assessments/{started.pk}/dates")
    assert refused.status_code == 409
    assert "cannot be rescheduled" in text(refused)
    planned = assessment_plan(
        actor=world.team.manager,
        kind="special",
        certificate=cert,
        start_date=dt.date(2026, 6, 10),
        end_date=dt.date(2026, 6, 11),
        team=[(world.team.lead, "lead")],
    )
    before = audit_count()
    login(client, world.team.lead)
    assert client.get(f"{CB}/assessments/{planned.pk}/dates").status_code == 403
    data = {"start_date": "2026-06-20", "end_date": "2026-06-21", "reason": "Moved"}
    assert client.post(f"{CB}/assessments/{planned.pk}/dates", data).status_code == 403
    assert audit_count() == before


def test_the_lead_corrects_the_report_date_and_the_decision_goes_on(
    client: Client, world: World
) -> None:
    a = world.assessment(world.accepted_application())
    on = reported(a) - DAYS  # the day the decision was meant to be taken
    login(client, world.team.decision_maker)
    refused = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "grant", "grant-decided_on": on.isoformat()},
    )
    assert refused.status_code == 409

    lead = login(Client(), world.team.lead)
    page = lead.get(f"{CB}/assessments/{a.pk}/")
    assert f'href="{CB}/assessments/{a.pk}/report/correct"' in page.content.decode()
    form = lead.get(f"{CB}/assessments/{a.pk}/report/correct?from=decision")
    assert form.status_code == 200
    assert f'value="{reported(a).isoformat()}"' in form.content.decode()
    before = audit_count()
    missing = lead.post(
        f"{CB}/assessments/{a.pk}/report/correct?from=decision", {"issued_on": on.isoformat()}
    )
    assert missing.status_code == 400
    assert field_error(missing, "id_reason") == "Say why the report is corrected."
    assert audit_count() == before
    response = lead.post(
        f"{CB}/assessments/{a.pk}/report/correct?from=decision",
        {"issued_on": on.isoformat(), "summary": "", "reason": "Typed a day late"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/decision", 302)]
    assert f"The report is corrected: issued on {on.day} " in text(response)
    assert Assessment.objects.get(pk=a.pk).report_issued_on == on
    assert AuditEvent.objects.latest("seq").action == "assessment.correct_report"

    # the decision on the day meant now goes through
    granted = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "grant", "grant-decided_on": on.isoformat()},
    )
    assert granted.status_code == 302
    assert Certificate.objects.get(application_id=a.application_id).initial_decision_on == on


def test_a_report_is_corrected_by_its_lead_only_and_not_once_decided_on(
    client: Client, world: World
) -> None:
    a = world.assessment(world.accepted_application())
    before = audit_count()
    login(client, world.team.decision_maker)
    assert client.get(f"{CB}/assessments/{a.pk}/report/correct").status_code == 403
    data = {"issued_on": reported(a).isoformat(), "reason": "Wrong"}
    assert client.post(f"{CB}/assessments/{a.pk}/report/correct", data).status_code == 403
    client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"decision": "refuse", "refuse-rationale": "Scope not demonstrated"},
    )
    login(client, world.team.lead)
    assert f"{CB}/assessments/{a.pk}/report/correct" not in (
        client.get(f"{CB}/assessments/{a.pk}/").content.decode()
    )
    refused = client.post(
        f"{CB}/assessments/{a.pk}/report/correct",
        {"issued_on": (reported(a) - DAYS).isoformat(), "reason": "Wrong"},
    )
    assert refused.status_code == 409
    assert "A decision rests on this report, so it can no longer be corrected." in text(refused)
    assert Assessment.objects.get(pk=a.pk).report_issued_on == reported(a)
    assert audit_count() == before + 1  # the refusal of certification only
