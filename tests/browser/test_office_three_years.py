"""One certificate through three years in a real browser, with a clock that moves.

The start is an accepted application (made through the services, with the accounts and a
second certification body). From there every step goes through the pages, each taken by the
person who takes it in practice: the scheme manager plans from the certificate's page, the
lead assessor starts the visit, records a finding and issues its report, the organization's
user answers the finding, a decision maker who was not on the team decides, and the public
register is read by an anonymous visitor.

The steps: the grant; two surveillances, each maintained (the first with a minor
nonconformity whose plan is accepted); a surveillance missed (the register
shows the suspension from the day after its window on its own, then the decision maker
records it); a special visit and the restoration; a scope extension; a site added; the
renewal before expiry; and the transfer to another certification body.

The clock only moves forward from today (the browser's own clock stays real, and cookies
dated from a past clock would be dropped); each visit is planned ahead, then the clock
travels to its day, and everyone signs in afresh.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect

from apcert.accounts.models import User
from apcert.assessments.choices import AssessmentKind
from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.models import Certificate
from apcert.core.dates import add_months
from apcert.cycle.programme import SURVEILLANCE, visits_for
from apcert.schemes.models import Standard
from tests.browser.conftest import RESULTS_DIR
from tests.browser.test_office_journey import (
    Office,
    choose,
    finding_section,
    follow,
    status_message,
    submit,
    visit,
)
from tests.browser.test_register_browser import day as written
from tests.factories import World

pytestmark = pytest.mark.browser

NEW_WORDING = "Printed board fabrication at the main plant"
SITE_WORDING = "Electroplating at the second plant"
GAUGE = "One thickness gauge is overdue for calibration"


def at(day: dt.date) -> dt.datetime:
    """Nine in the morning (UTC) of ``day``: the moment the clock travels to."""
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


def screenshot(page: Page, number: int, step: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / f"three-years-{number:02d}-{step}.png"), full_page=True)


def open_certificate(page: Page, number: str) -> None:
    """From the home page to the CB's page of the certificate."""
    follow(page, page.get_by_role("link", name="Certification body"))
    follow(page, page.get_by_role("navigation", name="Certification body").get_by_role(
        "link", name="Certificates", exact=True
    ))  # fmt: skip
    follow(page, page.get_by_role("link", name=number, exact=True))
    expect(page.locator("h1")).to_have_text(number)


def issue_number(page: Page) -> Locator:
    """The issue number on the CB's page of a certificate."""
    return page.locator("dl.facts dt:text-is('Issue') + dd")


def public_page(page: Page, number: str) -> None:
    visit(page, "/certificates/" + quote(number))
    expect(page.locator("h1")).to_contain_text(number)


def assessment_id(page: Page, kind: str) -> int:
    heading = page.locator("h1").inner_text()
    match = re.match(rf"{re.escape(AssessmentKind(kind).label.capitalize())} (\d+): ", heading)
    assert match, heading
    return int(match.group(1))


def plan_visit(
    office: Office, manager: User, lead: User, number: str, kind: str, day: dt.date
) -> int:
    """The scheme manager plans a one-day visit of ``kind`` from the certificate's page."""
    label = AssessmentKind(kind).label
    with office.signed_in(manager) as page:
        open_certificate(page, number)
        follow(page, page.locator("#plan-options").get_by_role("link", name=f"Plan a {label}"))
        page.get_by_label("First day").fill(day.isoformat())
        page.get_by_label("Last day").fill(day.isoformat())
        choose(page.get_by_label("Lead assessor"), f"{lead} (")
        submit(page, page.get_by_role("button", name=f"Plan the {label}"))
        expect(status_message(page)).to_have_text(f"The {label} of {number} is planned.")
        expect(page.locator("#status")).to_have_text("planned")
        return assessment_id(page, kind)


def carry_out(office: Office, lead: User, pk: int, summary: str, minor: str | None = None) -> None:
    """The lead assessor starts the visit on its day, records a minor nonconformity when
    ``minor`` says what was found, and issues the report."""
    with office.signed_in(lead) as page:
        follow(page, page.get_by_role("link", name="Certification body"))
        follow(page, page.get_by_role("navigation", name="Certification body").get_by_role(
            "link", name="Assessments"
        ))  # fmt: skip
        follow(page, page.get_by_role("link", name=re.compile(rf" {pk}$")))
        submit(page, page.get_by_role("button", name="Start the assessment"))
        expect(status_message(page)).to_have_text("The assessment is in progress.")
        if minor is not None:
            page.get_by_label("Grade").select_option(label="minor nonconformity")
            page.get_by_label("Requirement", exact=True).select_option(label="ISO 9001 clause")
            page.get_by_label("Requirement reference").fill("ISO 9001:2015 7.1.5")
            page.get_by_label("What was found").fill(minor)
            submit(page, page.get_by_role("button", name="Record the finding"))
            expect(status_message(page)).to_have_text("The finding is recorded.")
            expect(finding_section(page, "Minor nonconformity")).to_contain_text(minor)
        page.get_by_label("Summary").fill(summary)
        submit(page, page.get_by_role("button", name="Issue the report"))
        expect(status_message(page)).to_have_text("The report is issued.")
        expect(page.locator("#status")).to_have_text("report issued")


def answer_minor(office: Office, org_user: User, lead: User, org_id: int, pk: int) -> None:
    """The organization answers the minor nonconformity; the lead assessor accepts the plan."""
    with office.signed_in(org_user) as page:
        visit(page, f"/office/org/{org_id}/findings/")
        row = page.locator("table tbody tr", has_text="minor nonconformity")
        expect(row).to_have_count(1)
        follow(page, row.get_by_role("link"))
        page.get_by_label("Correction").fill("The gauge is calibrated")
        page.get_by_label("Root cause").fill("The calibration plan missed one gauge")
        page.get_by_label("Corrective action").fill("Every gauge is in the calibration plan")
        page.get_by_label("Evidence (notes)").fill("The calibration certificate")
        submit(page, page.get_by_role("button", name="Send the answer"))
        expect(status_message(page)).to_contain_text("Your answer is sent to the assessment team")
    with office.signed_in(lead) as page:
        visit(page, f"/office/cb/assessments/{pk}/")
        card = finding_section(page, "Minor nonconformity")
        review = card.get_by_role("form", name=re.compile(r"^Review corrective action \d+$"))
        review.get_by_label("Accept the plan (to be verified later)").check()
        review.get_by_label("Comment").fill("The plan covers every gauge")
        submit(page, review.get_by_role("button", name="Record the review"))
        expect(status_message(page)).to_contain_text("is reviewed.")
        expect(finding_section(page, "Minor nonconformity")).to_contain_text(
            "corrective action plan accepted"
        )


def open_decision(page: Page, number: str, pk: int) -> None:
    """From the certificate's page to the decision on assessment ``pk``."""
    open_certificate(page, number)
    row = page.locator("#followups li", has=page.locator(f"a[href$='/assessments/{pk}/']"))
    follow(page, row.get_by_role("link", name="decision"))
    expect(page.locator("h1")).to_contain_text("Certification decision: ")


def decide_on_certificate(
    page: Page, number: str, slug: str, fill: dict[str, str], button: str
) -> None:
    """A decision of the certificate's page: its form, the confirmation page, confirmed."""
    open_certificate(page, number)
    follow(page, page.locator(f"#decision-{slug}").get_by_role("link"))
    for label, value in fill.items():
        field = page.get_by_label(label)
        if field.evaluate("e => e.tagName") == "SELECT":
            choose(field, value)
        else:
            field.fill(value)
    submit(page, page.get_by_role("button", name="Continue: check what the public will see"))
    expect(page.locator("h1")).to_contain_text("Check and confirm")
    submit(page, page.get_by_role("button", name=button))


def test_one_certificate_through_three_years(
    live_world: World, browser: Browser, base_url: str, request: pytest.FixtureRequest
) -> None:
    # given an accepted application to a CB with its staff, and a second CB with its own
    world = live_world
    org, team = world.org, world.team
    manager, lead, decider = team.manager, team.lead, team.decision_maker
    other = World.make_cb(world.secretariat, f"N{team.cb.code}", dt.date(2020, 1, 1))
    app = world.accepted_application()
    iso9001 = Standard.objects.get(designation="ISO 9001", edition="2015")
    office = Office(browser, base_url, request)
    today = timezone.localdate()

    with time_machine.travel(at(today), tick=True) as clock:
        # --- 1. grant: the initial assessment of the last few days, reported and granted today
        with office.signed_in(manager) as page:
            follow(page, page.get_by_role("link", name="Certification body"))
            follow(page, page.get_by_role("link", name=f"Application {app.pk}", exact=True))
            follow(page, page.get_by_role("link", name="Plan the initial assessment"))
            page.get_by_label("First day").fill((today - dt.timedelta(days=3)).isoformat())
            page.get_by_label("Last day").fill((today - dt.timedelta(days=2)).isoformat())
            choose(page.get_by_label("Lead assessor"), f"{lead} (")
            submit(page, page.get_by_role("button", name="Plan the assessment"))
            expect(status_message(page)).to_have_text("The assessment is planned.")
            initial = assessment_id(page, "initial")
        carry_out(office, lead, initial, "The processes conform; no finding.")
        with office.signed_in(decider) as page:
            visit(page, f"/office/cb/assessments/{initial}/")
            follow(
                page, page.get_by_role("link", name="Check the rules and decide on certification")
            )
            grant = page.get_by_role("region", name="Grant certification")
            expect(grant.locator("#grant-blockers")).to_have_text("Every rule is met.")
            grant.get_by_label("Rationale").fill("No finding; the scope is within our acceptance.")
            submit(page, grant.get_by_role("button", name="Grant certification"))
            message = status_message(page).inner_text()
            match = re.fullmatch(r"Certification is granted: (IECQ-A \S+ \d\d\.\d{4})\.", message)
            assert match, message
            number = match.group(1)
            expect(page.locator("#status")).to_have_text(f"Current since {written(today)}")
            expect(issue_number(page)).to_have_text("1")
            screenshot(page, 1, "grant")
        cert = Certificate.objects.get(number=number)
        assert cert.current_issue_number == 1
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("#status-heading")).to_have_text("Status: Current")

        # --- 2. and 3. two surveillances, each ahead of its window, each maintained ----------
        for n, months in ((1, 6), (2, 12)):
            day = add_months(today, months)
            pk = plan_visit(office, manager, lead, number, "surveillance", day)
            clock.move_to(at(day))
            if n == 1:  # a minor nonconformity, answered by the holder, its plan accepted
                carry_out(office, lead, pk, "One minor nonconformity.", minor=GAUGE)
                answer_minor(office, world.org_user, lead, org.pk, pk)
            else:
                carry_out(office, lead, pk, f"Surveillance {n}: the processes still conform.")
            with office.signed_in(decider) as page:
                open_decision(page, number, pk)
                maintain = page.get_by_role("region", name="Maintain certification")
                expect(maintain.locator("#maintain-blockers")).to_have_text("Every rule is met.")
                maintain.get_by_label("Rationale").fill(f"Surveillance {n}: no major finding.")
                submit(page, maintain.get_by_role("button", name="Maintain certification"))
                expect(status_message(page)).to_have_text(f"Certification is maintained: {number}.")
                expect(page.locator("#status")).to_have_text(f"Current since {written(today)}")
                expect(issue_number(page)).to_have_text("1")
                expect(page.locator("#programme tbody tr").nth(n - 1)).to_contain_text("reported")
                screenshot(page, 1 + n, f"surveillance-{n}")

        # --- 4. the third surveillance is missed: suspended from the day after its window ----
        cert.refresh_from_db()
        missed = next(v for v in visits_for(cert) if v.kind == SURVEILLANCE and not v.done)
        assert missed.sequence == 3, missed
        suspended_from = missed.window_end + dt.timedelta(days=1)
        day = suspended_from + dt.timedelta(days=4)
        clock.move_to(at(day))
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("#status-heading")).to_have_text("Status: Suspended")
            expect(page.locator("#status-not-recorded")).to_contain_text(
                f"Suspended on {written(suspended_from)} (surveillance not carried out in time)."
            )
            screenshot(page, 4, "missed-surveillance-register")
        with office.signed_in(decider) as page:
            open_certificate(page, number)
            expect(page.locator("#status")).to_contain_text("Suspended")
            expect(page.locator("#programme tbody tr").nth(2)).to_contain_text("overdue")
            # The calendar suspended it already: no second suspension dated later is offered;
            # the decision maker records the calendar's change, dated when it happened.
            expect(page.locator("#decision-suspend")).to_have_count(0)
            notice = page.locator("#calendar-unrecorded")
            expect(notice).to_contain_text(f"Suspended from {written(suspended_from)}")
            screenshot(page, 5, "missed-surveillance-office")
            submit(page, notice.get_by_role("button", name="Record it now"))
            expect(status_message(page)).to_contain_text("Recorded what the scheme's calendar")
            expect(page.locator("#calendar-unrecorded")).to_have_count(0)
            expect(page.locator("#status")).to_contain_text(
                f"Suspended since {written(suspended_from)}"
            )
        cert.refresh_from_db()
        assert cert.status == CertificateStatus.SUSPENDED
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("#status-heading")).to_have_text("Status: Suspended")
            expect(page.locator("#status-not-recorded")).to_have_count(0)
            expect(page.locator("#status")).to_contain_text(written(suspended_from))
            expect(page.locator("main")).to_contain_text(StatusReason.MISSED_SURVEILLANCE.label)
            screenshot(page, 5, "suspended-register")
            # and the days between the window's end and the decision stay suspended
            probe = suspended_from + dt.timedelta(days=1)
            visit(page, "/certificates/" + quote(number) + f"?on={probe.isoformat()}")
            expect(page.locator("#valid-on-answer")).to_have_class(re.compile("answer-not-valid"))

        # --- 5. a special visit finds the cause resolved; a decision maker restores -----------
        day = day + dt.timedelta(days=14)
        pk = plan_visit(office, manager, lead, number, "special", day)
        clock.move_to(at(day))
        carry_out(office, lead, pk, "The surveillance programme is back on track.")
        with office.signed_in(decider) as page:
            decide_on_certificate(
                page,
                number,
                "restore",
                {"How the cause of the suspension was resolved (private)": "Visited late."},
                f"Yes, restore {number}",
            )
            expect(status_message(page)).to_have_text(f"{number} is restored.")
            expect(page.locator("#status")).to_have_text(f"Current since {written(day)}")
            expect(issue_number(page)).to_have_text("1")
            screenshot(page, 6, "restored")
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("#status-heading")).to_have_text("Status: Current")

        # --- 6. and 7. a scope extension, then a site added ----------------------------------
        for step, decision, category, site, wording in (
            (7, "Extend the scope at sites", "PWB ", world.site, NEW_WORDING),
            (8, "Add a site", "EPL ", world.site2, SITE_WORDING),
        ):
            day = day + dt.timedelta(days=30)
            pk = plan_visit(office, manager, lead, number, "scope_extension", day)
            clock.move_to(at(day))
            carry_out(office, lead, pk, f"Assessed for: {wording}.")
            with office.signed_in(decider) as page:
                open_decision(page, number, pk)
                scope = page.get_by_role("region", name="Extend the scope or add a site")
                scope.get_by_role("radio", name=re.compile(f"^{decision}")).check()
                line = scope.get_by_role("group", name="New scope line 1")
                choose(line.get_by_label("Process category"), category)
                choose(line.get_by_label("Site"), f"{site.name}, ")
                line.get_by_label("Scope wording").fill(wording)
                line.get_by_label("Declared standards").select_option(iso9001.reference)
                scope.get_by_label("Rationale").fill("Assessed without finding.")
                submit(page, scope.get_by_role("button", name="Extend the scope or add a site"))
                done = "scope is extended" if step == 7 else "site is added"
                issue = step - 5
                expect(status_message(page)).to_have_text(f"{number}: the {done} (issue {issue}).")
                expect(issue_number(page)).to_have_text(str(issue))
                screenshot(page, step, "scope-extended" if step == 7 else "site-added")
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("main")).to_contain_text(NEW_WORDING)

        # --- 8. the renewal, decided before expiry: same number, a new issue ----------------
        cert.refresh_from_db()
        expires_on = cert.expires_on
        renewal = next(v for v in visits_for(cert) if v.kind == "reassessment")
        day = renewal.due_date
        pk = plan_visit(office, manager, lead, number, "reassessment", day)
        clock.move_to(at(day))
        carry_out(office, lead, pk, "The whole scope conforms; renewal recommended.")
        with office.signed_in(decider) as page:
            open_decision(page, number, pk)
            renew = page.get_by_role("region", name="Renew the certificate")
            expect(renew.locator("#renew-blockers")).to_have_text("Every rule is met.")
            renew.get_by_label("Rationale").fill("Renewed before expiry.")
            submit(page, renew.get_by_role("button", name="Renew the certificate"))
            cert.refresh_from_db()
            assert cert.expires_on > expires_on
            expect(status_message(page)).to_have_text(
                f"{number} is renewed: valid until {written(cert.expires_on)}."
            )
            expect(page.locator("h1")).to_have_text(number)
            expect(issue_number(page)).to_have_text("4")
            screenshot(page, 9, "renewed")
        assert day < expires_on and cert.current_issue_number == 4

        # --- 9. the transfer: another CB takes the certificate over -------------------------
        review_day = day + dt.timedelta(days=7)
        with office.signed_in(other.manager) as page:
            follow(page, page.get_by_role("link", name="Certification body"))
            follow(page, page.get_by_role("link", name="Take over a certificate"))
            page.get_by_label("Certificate number").fill(number)
            follow(page, page.get_by_role("button", name="Find the certificate"))
            expect(page.locator("#found")).to_contain_text(org.legal_name)
            page.get_by_label("First day").fill(review_day.isoformat())
            page.get_by_label("Last day").fill(review_day.isoformat())
            choose(page.get_by_label("Lead assessor"), f"{other.lead} (")
            submit(page, page.get_by_role("button", name="Plan the transfer review"))
            expect(status_message(page)).to_have_text(
                f"The transfer review of {number} by {other.cb.code} is planned."
            )
            pk = assessment_id(page, "transfer_review")
        clock.move_to(at(review_day))
        carry_out(office, other.lead, pk, "The certificate can be taken over.")
        with office.signed_in(other.decision_maker) as page:
            visit(page, f"/office/cb/assessments/{pk}/decision")
            transfer = page.get_by_role("region", name="Transfer the certificate")
            expect(transfer.locator("#transfer-blockers")).to_have_text("Every rule is met.")
            transfer.get_by_label("Rationale").fill("The holder moves to us.")
            submit(page, transfer.get_by_role("button", name="Transfer the certificate"))
            message = status_message(page).inner_text()
            match = re.fullmatch(
                rf"{re.escape(number)} is transferred to {re.escape(other.cb.code)}: "
                r"it is now (IECQ-A \S+ \d\d\.\d{4})\.",
                message,
            )
            assert match, message
            new_number = match.group(1)
            expect(page.locator("h1")).to_have_text(new_number)
            expect(issue_number(page)).to_have_text("1")
            expect(page.locator("#transferred-from")).to_contain_text(number)
            # The new certificate continues the renewed cycle: nothing of the first cycle is
            # overdue at its new CB
            expect(page.locator("#programme")).not_to_contain_text("overdue")
            screenshot(page, 10, "transferred")
        cert.refresh_from_db()
        assert cert.status == CertificateStatus.WITHDRAWN
        assert cert.status_changes.order_by("pk").last().reason_category == (
            StatusReason.TRANSFERRED
        )
        with office.visitor("public") as page:
            public_page(page, number)
            expect(page.locator("#status-heading")).to_have_text("Status: Withdrawn")
            follow(page, page.locator("#status").get_by_role("link", name=new_number))
            expect(page.locator("h1")).to_contain_text(new_number)
            expect(page.locator("#status-heading")).to_have_text("Status: Current")
            screenshot(page, 11, "register-new-number")
            follow(page, page.locator("#status").get_by_role("link", name=number))
            expect(page.locator("h1")).to_contain_text(number)
