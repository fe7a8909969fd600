"""The decisions on a certificate in the certification body's back office.

Each decision the lifecycle table allows from a certificate's status is offered on its page
to a decision maker of its CB, and only those; one that a rule blocks today is shown
disabled with the rule. Each has its own page: the form (no reason preselected), then a
confirmation page showing what the public register will show, with nothing written yet,
then the decision, written with its one audit event. A confirmation whose certificate
changed in between is refused, and every refusal writes nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.models import User
from apcert.audit.models import AuditEvent
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.errors import (
    CERTIFICATE_CHANGED_SINCE_REVIEW,
    CERTIFICATE_EMPTY_SCOPE,
    CERTIFICATE_ENDED_BY_CALENDAR,
    CERTIFICATE_NOTHING_CHANGED,
    CERTIFICATE_SUSPENSION_EXCEEDED,
    CERTIFICATE_TRANSITION_NOT_ALLOWED,
    CERTIFICATE_VALIDITY_ENDED,
)
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate, CertificateIssue, Decision
from apcert.certificates.services import (
    DECISION_ACTIONS,
    certificate_cancel,
    certificate_change_confirm,
    certificate_expire,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import INVALID_ACTION, PERMISSION_CB_ROLE_REQUIRED, RuleViolation
from apcert.organizations.services import organization_rename, site_move, site_rename
from apcert.schemes.models import SchemeRules, Standard
from apcert.schemes.services import scheme_publication_review_set
from apcert.web.sections.cb.views.certificates import DECISIONS
from tests.factories import World

pytestmark = pytest.mark.django_db

CB = "/office/cb"
TODAY = dt.date(2026, 6, 1)


def text(response: HttpResponse) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def field_error(response: HttpResponse, field_id: str) -> str:
    """The error shown next to the field ``field_id`` (its ``<div id=..._error>``)."""
    found = re.search(
        rf'<div class="error-text" id="{re.escape(field_id)}_error">(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    assert found, f"no error next to {field_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def hidden_fields(response: HttpResponse) -> dict[str, list[str]]:
    """The hidden inputs of the confirmation form, name -> values, the CSRF token left out."""
    found = re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.content.decode()
    )
    out: dict[str, list[str]] = {}
    for name, value in found:
        if name != "csrfmiddlewaretoken":
            out.setdefault(name, []).append(html.unescape(value))
    return out


def offered(response: HttpResponse) -> dict[str, bool]:
    """The decisions the certificate page offers: slug -> whether it is open (not blocked)."""
    page = response.content.decode()
    return {
        slug: "decision-blocked" not in classes
        for classes, slug in re.findall(
            r'<li class="(decision[^"]*)" id="decision-([a-z-]+)"', page
        )
    }


def records() -> tuple[int, int, int]:
    return (AuditEvent.objects.count(), Decision.objects.count(), CertificateIssue.objects.count())


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    time_machine.move_to(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def cert(world: World) -> Certificate:
    return world.granted()


def two_site_certificate(world: World) -> Certificate:
    """EPL at the main plant (published) and PWB at the second plant (not published)."""
    return world.granted_at_two_sites()


def suspended(world: World, cert: Certificate, on: dt.date = dt.date(2026, 5, 1)) -> Certificate:
    return certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Customer complaint",
        decided_on=on,
    )


def url(cert: Certificate, slug: str = "", confirm: bool = False) -> str:
    base = f"{CB}/certificates/{cert.pk}/"
    return base + slug + ("/confirm" if confirm else "")


# --- which decisions the certificate's page offers ---------------------------------------


def _in_status(world: World, status: str) -> Certificate:
    if status == CertificateStatus.DRAFT:
        scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)
        return world.granted()
    cert = two_site_certificate(world)
    dm = world.team.decision_maker
    on = dt.date(2026, 5, 1)
    if status == CertificateStatus.SUSPENDED:
        return suspended(world, cert)
    if status == CertificateStatus.WITHDRAWN:
        return certificate_withdraw(
            actor=dm, certificate=cert, reason_category="misuse", reason="x", decided_on=on
        )
    if status == CertificateStatus.CANCELLED:
        return certificate_cancel(actor=dm, certificate=cert, reason="Letter", decided_on=on)
    if status == CertificateStatus.EXPIRED:
        return certificate_expire(certificate=cert, as_of=cert.expires_on + dt.timedelta(days=1))
    return cert


@pytest.mark.parametrize("status", CertificateStatus.values)
def test_the_page_offers_exactly_the_decisions_the_lifecycle_table_allows(
    client: Client, world: World, status: str
) -> None:
    # Given a certificate in each status, and its CB's decision maker
    cert = _in_status(world, status)
    assert cert.status == status
    login(client, world.team.decision_maker)

    # When they open its page
    response = client.get(url(cert))

    # Then the decisions offered are those the table allows from the status, no more
    assert response.status_code == 200
    allowed = {
        d.slug
        for d in DECISIONS.values()
        if CERTIFICATE.allowed(status, DECISION_ACTIONS[d.action])
    }
    assert set(offered(response)) == allowed
    if status in ("withdrawn", "cancelled", "expired"):
        assert "no decision can be taken on it any more" in text(response)


def test_a_decision_a_rule_blocks_is_shown_disabled_with_the_rule(
    client: Client, world: World, cert: Certificate
) -> None:
    # Given a certificate with one scope line at one site, and no change recorded since
    login(client, world.team.decision_maker)

    # When its decision maker opens its page
    response = client.get(url(cert))

    # Then suspending, withdrawing and cancelling are open; reducing the scope, removing a
    # site and re-issuing are shown disabled, each with its rule, and no link leads to them
    assert offered(response) == {
        "suspend": True,
        "withdraw": True,
        "cancel": True,
        "reduce-scope": False,
        "remove-site": False,
        "reissue": False,
    }
    page = text(response)
    assert "certifies one scope line, and a certificate keeps at least one" in page
    assert "there is nothing to re-issue for" in page
    links = response.content.decode()
    for slug in ("reduce-scope", "remove-site", "reissue"):
        assert f'href="{url(cert, slug)}"' not in links
    assert f'href="{url(cert, "suspend")}"' in links


def test_a_restore_past_the_maximum_suspension_is_disabled_with_the_rule(
    client: Client, world: World, cert: Certificate, time_machine: Any
) -> None:
    # Given a scheme that reduces the scope when a suspension runs out, and a certificate
    # suspended for longer than its maximum
    SchemeRules.objects.filter(scheme=world.scheme).update(suspension_end_action="reduce_scope")
    cert = suspended(world, cert, on=dt.date(2026, 4, 1))
    time_machine.move_to(dt.datetime(2026, 10, 5, 9, 0, tzinfo=dt.UTC))
    login(client, world.team.decision_maker)

    # Then the page shows the restoration disabled, saying why and what to do instead
    response = client.get(url(cert))
    assert offered(response)["restore"] is False
    assert offered(response)["withdraw"] is True
    page = text(response)
    assert "maximum suspension of 6 months ran out on 1 October 2026" in page
    assert "reduce its scope to what can still be certified" in page

    # and its form page still opens, for a decision taken before the limit, saying the rule
    form_page = client.get(url(cert, "restore"))
    assert form_page.status_code == 200
    assert "Not possible if decided today." in text(form_page)
    assert form_page.context["blockers"][0].code == CERTIFICATE_SUSPENSION_EXCEEDED


def test_a_suspension_the_calendar_made_is_recorded_from_the_page_dated_when_it_happened(
    client: Client, world: World, cert: Certificate, time_machine: Any
) -> None:
    # Given a certificate granted on 24 March 2026 whose first surveillance window closed on
    # 23 May 2027 without a visit, read a week later with no daily check run since
    time_machine.move_to(dt.datetime(2027, 6, 1, 9, 0, tzinfo=dt.UTC))
    login(client, world.team.decision_maker)
    response = client.get(url(cert))

    # Then the page says so, offers no second suspension, and offers what a suspended
    # certificate allows
    page = text(response)
    assert "Suspended from 24 May 2027 (surveillance not carried out in time)" in page
    assert "suspend" not in offered(response)
    assert offered(response)["restore"] is True

    # When the decision maker records it, it is recorded by the rule, dated 24 May
    done = client.post(url(cert, "record-calendar"), follow=True)
    assert "Recorded what the scheme" in text(done)
    change = cert.status_changes.latest("id")
    assert (change.to_status, change.effective_on, change.decision_id) == (
        "suspended",
        dt.date(2027, 5, 24),
        None,
    )
    assert "Suspended from 24 May 2027" not in text(done)

    # and a second press finds nothing left to record
    again = client.post(url(cert, "record-calendar"), follow=True)
    assert "There was nothing left to record" in text(again)
    assert cert.status_changes.count() == 2


@pytest.mark.parametrize("end", ["suspension_ran_out", "validity_ended"])
def test_every_decision_after_the_calendar_ended_the_certificate_is_disabled(
    client: Client, world: World, cert: Certificate, time_machine: Any, end: str
) -> None:
    # Given a certificate that the calendar has ended, which the daily check has not recorded:
    # withdrawn when its suspension ran to the scheme's maximum, or expired
    if end == "suspension_ran_out":
        cert = suspended(world, cert, on=dt.date(2026, 4, 1))
        day = dt.date(2026, 10, 5)
        words, code = "so there is nothing left to decide on", CERTIFICATE_ENDED_BY_CALENDAR
    else:
        day = cert.expires_on + dt.timedelta(days=2)
        words, code = "comes after its validity ended", CERTIFICATE_VALIDITY_ENDED
    time_machine.move_to(dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC))
    stored = Certificate.objects.get(pk=cert.pk).status
    login(client, world.team.decision_maker)

    # Then every decision its stored status allows is shown, each disabled, with the rule
    response = client.get(url(cert))
    allowed = {
        d.slug
        for d in DECISIONS.values()
        if CERTIFICATE.allowed(stored, DECISION_ACTIONS[d.action])
    }
    assert set(offered(response)) == allowed
    assert not any(offered(response).values())
    assert words in text(response)
    # and one sent anyway is refused by its service, next to its date, with nothing written
    before = records()
    response = client.post(
        url(cert, "withdraw"),
        {"reason_category": "misuse", "reason": "x", "decided_on": day.isoformat()},
    )
    assert response.status_code == 409
    assert words in field_error(response, "id_decided_on")
    assert response.context["blockers"][0].code == code
    assert records() == before


def test_staff_who_do_not_decide_are_told_who_does(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.manager)
    response = client.get(url(cert))
    assert offered(response) == {}
    assert "taken by a decision maker of" in text(response)


# --- no default reason ------------------------------------------------------------------


def _select_options(response: HttpResponse, name: str) -> list[tuple[str, str, bool]]:
    page = response.content.decode()
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    return [
        (value, html.unescape(label).strip(), "selected" in attrs)
        for value, attrs, label in re.findall(
            r'<option value="([^"]*)"([^>]*)>(.*?)</option>', select.group(1), re.S
        )
    ]


@pytest.mark.parametrize("slug", ["suspend", "withdraw"])
def test_no_public_reason_is_preselected(
    client: Client, world: World, cert: Certificate, slug: str
) -> None:
    login(client, world.team.decision_maker)
    response = client.get(url(cert, slug))
    assert response.status_code == 200
    options = _select_options(response, "reason_category")
    # the prompt comes first and is what is chosen: no reason is
    assert options[0] == ("", "Choose a reason", True)
    assert len(options) > 5
    assert not any(selected for _, _, selected in options[1:])
    assert re.search(r'<select name="reason_category"[^>]* required', response.content.decode())


def test_no_scope_line_site_or_change_is_preselected(client: Client, world: World) -> None:
    cert = two_site_certificate(world)
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    login(client, world.team.decision_maker)
    for slug in ("reduce-scope", "remove-site", "reissue"):
        page = client.get(url(cert, slug)).content.decode()
        inputs = re.findall(r'<input type="(?:checkbox|radio)"[^>]*>', page)
        assert inputs, slug
        assert not any("checked" in tag for tag in inputs), slug
    # a change chosen on the certificate page comes chosen
    page = client.get(url(cert, "reissue"), {"change": "holder_renamed"}).content.decode()
    assert re.search(r'<input type="radio"[^>]*value="holder_renamed"[^>]*checked', page)


def test_the_decision_date_is_today_unless_changed(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    page = client.get(url(cert, "suspend")).content.decode()
    assert re.search(r'name="decided_on" value="2026-06-01"', page)


# --- each decision: form, confirmation with nothing written, confirmed ------------------


def _holder_renamed(world: World, cert: Certificate) -> str:
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    return "holder_renamed"


def _site_renamed(world: World, cert: Certificate) -> str:
    site_rename(actor=world.org_user, site=world.site, name="Werk Nord")
    return f"site_renamed:{world.site.pk}"


def _site_moved(world: World, cert: Certificate) -> str:
    site_move(
        actor=world.org_user,
        site=world.site,
        address="5 Neue Strasse",
        city="Dresden",
        country="DE",
    )
    return f"site_moved:{world.site.pk}"


def _standard_updated(world: World, cert: Certificate) -> str:
    newer = Standard.objects.create(designation="ISO 9001", edition="2026", title="QMS")
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="superseded", superseded_by=newer
    )
    return f"standard_updated:{Standard.objects.get(designation='ISO 9001', edition='2015').pk}"


#: (case id, decision, how the certificate is prepared (returns the form's data), the status
#: after, the audit action, words the confirmation page shows of the public's view after)
CASES: list[
    tuple[str, str, Callable[[World, Certificate], dict[str, Any]], str, str, list[str]]
] = [
    (
        "suspend",
        "suspend",
        lambda w, c: {"reason_category": "misuse", "reason": "Mark on uncertified parts"},
        "suspended",
        "certificate.suspend",
        ["Status: Suspended", "misuse of the certificate or mark", "Suspended since 1 June 2026"],
    ),
    (
        "restore",
        "restore",
        lambda w, c: (suspended(w, c), {"reason": "Complaint closed"})[1],
        "current",
        "certificate.restore",
        ["Status: Current", "cause of suspension resolved"],
    ),
    (
        "withdraw",
        "withdraw",
        lambda w, c: {"reason_category": "unpaid_fees", "reason": "Invoices unpaid"},
        "withdrawn",
        "certificate.withdraw",
        ["Status: Withdrawn", "unpaid fees", "this cannot be undone"],
    ),
    (
        "cancel",
        "cancel",
        lambda w, c: {"reason": "Holder's letter of 20 May 2026"},
        "cancelled",
        "certificate.cancel",
        ["Status: Cancelled", "at the holder's request"],
    ),
    (
        "reduce-scope",
        "reduce-scope",
        lambda w, c: {"remove": [f"PWB:{w.site2.pk}"], "reason": "Line closed"},
        "current",
        "certificate.reduce_scope",
        ["Scope line removed: PWB at an unpublished site", "Removed or changed"],
    ),
    (
        "remove-site",
        "remove-site",
        lambda w, c: {"site": str(w.site2.pk), "reason": "Plant sold"},
        "current",
        "certificate.site_remove",
        ["Site removed: an unpublished site", "Removed or changed"],
    ),
    (
        "holder-renamed",
        "reissue",
        lambda w, c: {"change": _holder_renamed(w, c)},
        "current",
        "certificate.holder_renamed",
        ["Holder renamed:", "Galvano AG (DE)"],
    ),
    (
        "site-renamed",
        "reissue",
        lambda w, c: {"change": _site_renamed(w, c)},
        "current",
        "certificate.site_renamed",
        ["Site renamed: 'Main plant' to 'Werk Nord'", "New or changed"],
    ),
    (
        "site-moved",
        "reissue",
        lambda w, c: {"change": _site_moved(w, c)},
        "current",
        "certificate.site_moved",
        ["Site moved: Main plant to 5 Neue Strasse", "New or changed"],
    ),
    (
        "standard-updated",
        "reissue",
        lambda w, c: {"change": _standard_updated(w, c)},
        "current",
        "certificate.standard_update",
        ["Standard updated: ISO 9001:2015 to :2026", "ISO 9001:2026"],
    ),
]


@pytest.mark.parametrize(
    ("slug", "prepare", "status_after", "audit_action", "shown"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_decision_is_confirmed_before_it_is_written(
    client: Client,
    world: World,
    slug: str,
    prepare: Callable[[World, Certificate], dict[str, Any]],
    status_after: str,
    audit_action: str,
    shown: list[str],
) -> None:
    # Given a certificate at two sites (the second not published), ready for the decision
    cert = two_site_certificate(world)
    data = {**prepare(world, cert), "decided_on": "2026-06-01"}
    cert.refresh_from_db()
    status_before, issue_before = cert.status, cert.current_issue_number
    login(client, world.team.decision_maker)

    # When the decision maker opens the decision's page and sends its form
    assert client.get(url(cert, slug)).status_code == 200
    before = records()
    confirmation = client.post(url(cert, slug), data)

    # Then the confirmation page shows what the public will see, and nothing is written yet
    assert confirmation.status_code == 200, text(confirmation)[:2000]
    page = text(confirmation)
    assert "Nothing has been written yet." in page
    assert "On the register now" in page and "After you confirm" in page
    for words in shown:
        assert words in page, words
    # the public never sees an unpublished site's name, nor the private reason as public
    assert "Second plant" not in page
    assert records() == before
    cert.refresh_from_db()
    assert (cert.status, cert.current_issue_number) == (status_before, issue_before)

    # When they confirm, with the form's data carried in hidden fields
    response = client.post(url(cert, slug, confirm=True), hidden_fields(confirmation), follow=True)

    # Then it is written: the status, a new issue where it makes one, one audit event
    assert response.redirect_chain == [(url(cert), 302)]
    cert.refresh_from_db()
    assert cert.status == status_after
    makes_issue = DECISIONS[slug].makes_issue
    assert cert.current_issue_number == issue_before + (1 if makes_issue else 0)
    [event] = AuditEvent.objects.filter(action=audit_action)
    assert event.object_id == str(cert.pk)
    assert AuditEvent.objects.count() == before[0] + 1
    assert f"{cert.number} is {DECISIONS[slug].done}" in text(response)


def test_destructive_confirmations_are_red_and_a_restore_is_not(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    confirmation = client.post(
        url(cert, "withdraw"),
        {"reason_category": "misuse", "reason": "x", "decided_on": "2026-06-01"},
    ).content.decode()
    assert re.search(r'<button type="submit" name="confirm" class="button-danger">', confirmation)
    suspended(world, cert)
    confirmation = client.post(
        url(cert, "restore"), {"reason": "Resolved", "decided_on": "2026-06-01"}
    ).content.decode()
    assert 'name="confirm" class="button-confirm"' in confirmation
    assert "button-danger" not in confirmation


def test_change_the_details_goes_back_to_the_form_with_what_was_entered(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    data = {
        "reason_category": "complaint",
        "reason": "Complaint of 2 May",
        "decided_on": "2026-05-30",
    }
    confirmation = client.post(url(cert, "suspend"), data)
    before = records()
    response = client.post(
        url(cert, "suspend", confirm=True), {**hidden_fields(confirmation), "back": ["1"]}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<option value="complaint" selected>', page)
    assert "Complaint of 2 May" in page
    assert 'value="2026-05-30"' in page
    assert records() == before
    assert Certificate.objects.get(pk=cert.pk).status == "current"


# --- refusals write nothing ----------------------------------------------------------------


def test_a_confirmation_whose_certificate_changed_in_between_is_refused(
    client: Client, world: World, cert: Certificate
) -> None:
    # Given the confirmation page of a withdrawal
    login(client, world.team.decision_maker)
    confirmation = client.post(
        url(cert, "withdraw"),
        {"reason_category": "misuse", "reason": "Mark misused", "decided_on": "2026-06-01"},
    )
    assert confirmation.status_code == 200
    # and, before it is confirmed, another decision maker suspends the certificate
    suspended(world, cert, on=dt.date(2026, 6, 1))
    before = records()

    # When the withdrawal is confirmed
    response = client.post(url(cert, "withdraw", confirm=True), hidden_fields(confirmation))

    # Then it is refused, saying so, and nothing is written
    assert response.status_code == 409
    assert "changed after you reviewed this decision" in text(response)
    assert "Nothing was written" in text(response)
    assert records() == before
    assert Certificate.objects.get(pk=cert.pk).status == "suspended"
    # the refusal carries its code, and the form holds what was entered
    assert response.context["stale"].code == CERTIFICATE_CHANGED_SINCE_REVIEW
    assert "Mark misused" in response.content.decode()


def test_a_re_issue_is_refused_when_the_records_changed_after_its_confirmation(
    client: Client, world: World, cert: Certificate
) -> None:
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano AG")
    login(client, world.team.decision_maker)
    confirmation = client.post(
        url(cert, "reissue"), {"change": "holder_renamed", "decided_on": "2026-06-01"}
    )
    assert "Galvano AG" in text(confirmation)
    # The holder renames itself again: the issue would not name what was confirmed.
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Galvano SE")
    before = records()
    response = client.post(url(cert, "reissue", confirm=True), hidden_fields(confirmation))
    assert response.status_code == 409
    assert "changed after you reviewed this decision" in text(response)
    assert records() == before
    assert Certificate.objects.get(pk=cert.pk).current_issue_number == 1


def test_a_forged_digest_is_refused_as_stale(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    before = records()
    data = {"reason_category": "misuse", "reason": "x", "decided_on": "2026-06-01", "digest": "0"}
    response = client.post(url(cert, "suspend", confirm=True), data)
    assert response.status_code == 409
    assert records() == before
    # the service refuses it with its code
    with pytest.raises(RuleViolation) as refused:
        certificate_change_confirm(
            certificate=cert,
            change=lambda c: certificate_suspend(
                actor=world.team.decision_maker,
                certificate=c,
                reason_category="misuse",
                reason="x",
            ),
            describe=lambda c: {"status": c.status},
            digest="0",
        )
    assert refused.value.code == CERTIFICATE_CHANGED_SINCE_REVIEW
    assert records() == before


def test_form_refusals_show_next_to_their_field_and_write_nothing(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    before = records()
    # no reason chosen
    response = client.post(url(cert, "suspend"), {"reason": "x", "decided_on": "2026-06-01"})
    assert response.status_code == 400
    assert field_error(response, "id_reason_category") == (
        "Choose the reason the public register will show."
    )
    # no private reason: the service's words
    response = client.post(
        url(cert, "suspend"), {"reason_category": "misuse", "decided_on": "2026-06-01"}
    )
    assert response.status_code == 400
    assert field_error(response, "id_reason") == "Say why, for the record."
    # a date before the certificate's last change: next to the date
    response = client.post(
        url(cert, "suspend"),
        {"reason_category": "misuse", "reason": "x", "decided_on": "2020-01-01"},
    )
    assert response.status_code == 409
    assert "is before the certificate's last change" in field_error(response, "id_decided_on")
    # a reason category forced on the confirmation: refused, not written
    response = client.post(
        url(cert, "suspend", confirm=True),
        {"reason_category": "granted", "reason": "x", "decided_on": "2026-06-01", "digest": "x"},
    )
    assert response.status_code == 400
    assert field_error(response, "id_reason_category").startswith("Select a valid choice.")
    assert records() == before
    assert Certificate.objects.get(pk=cert.pk).status == "current"


def test_removing_every_scope_line_is_refused_next_to_the_lines(
    client: Client, world: World
) -> None:
    cert = two_site_certificate(world)
    login(client, world.team.decision_maker)
    before = records()
    lines = [f"EPL:{world.site.pk}", f"PWB:{world.site2.pk}"]
    response = client.post(
        url(cert, "reduce-scope"), {"remove": lines, "reason": "x", "decided_on": "2026-06-01"}
    )
    assert response.status_code == 409
    assert "keeps at least one scope line" in field_error(response, "id_remove")
    assert records() == before


def test_a_decision_the_table_forbids_is_refused_on_its_own_page(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    before = records()
    for method in (client.get, client.post):
        response = method(url(cert, "restore"), {"reason": "x", "decided_on": "2026-06-01"})
        assert response.status_code == 409
        assert response.context["error"].code == CERTIFICATE_TRANSITION_NOT_ALLOWED
    response = client.post(
        url(cert, "restore", confirm=True), {"reason": "x", "decided_on": "2026-06-01"}
    )
    assert response.status_code == 409
    assert records() == before


def test_a_decision_a_rule_blocks_whatever_the_date_is_refused_on_its_own_page(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    response = client.get(url(cert, "reduce-scope"))
    assert response.status_code == 409
    assert response.context["error"].code == CERTIFICATE_EMPTY_SCOPE
    response = client.get(url(cert, "reissue"))
    assert response.status_code == 409
    assert response.context["error"].code == CERTIFICATE_NOTHING_CHANGED


def test_an_unknown_decision_is_refused_with_its_code(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.team.decision_maker)
    before = records()
    for response in (
        client.get(url(cert, "explode")),
        client.post(url(cert, "explode"), {"reason": "x"}),
        client.post(url(cert, "explode", confirm=True), {"reason": "x"}),
    ):
        assert response.status_code == 400
        assert response.context["error"].code == INVALID_ACTION
    assert records() == before


@pytest.mark.parametrize("who", ["manager", "lead"])
def test_only_a_decision_maker_reaches_a_decision(
    client: Client, world: World, cert: Certificate, who: str
) -> None:
    login(client, getattr(world.team, who))
    before = records()
    data = {"reason_category": "misuse", "reason": "x", "decided_on": "2026-06-01"}
    for response in (
        client.get(url(cert, "suspend")),
        client.post(url(cert, "suspend"), data),
        client.post(url(cert, "suspend", confirm=True), {**data, "digest": "x"}),
    ):
        assert response.status_code == 403
        assert response.context["error"].code == PERMISSION_CB_ROLE_REQUIRED
    assert records() == before
    assert Certificate.objects.get(pk=cert.pk).status == "current"


def test_another_cb_s_certificate_is_404(client: Client, world: World, cert: Certificate) -> None:
    other = World.build()
    login(client, other.team.decision_maker)
    before = records()
    data = {"reason_category": "misuse", "reason": "x", "decided_on": "2026-06-01"}
    assert client.get(url(cert, "suspend")).status_code == 404
    assert client.post(url(cert, "suspend"), data).status_code == 404
    assert client.post(url(cert, "suspend", confirm=True), data).status_code == 404
    assert records() == before


# --- the holder's side -------------------------------------------------------------------


def test_the_holder_is_told_to_ask_its_cb_to_cancel(
    client: Client, world: World, cert: Certificate
) -> None:
    login(client, world.org_user)
    response = client.get(f"/office/org/{world.org.pk}/certificates/{cert.pk}/")
    assert response.status_code == 200
    page = text(response)
    assert "To end this certificate, ask your certification body" in page
    assert world.team.cb.name in page
