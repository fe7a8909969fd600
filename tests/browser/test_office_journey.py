"""The back office end to end in a real browser: an organization applies, its
certification body plans and records an assessment with a major and a minor finding, the
organization answers both, the assessor accepts the answers, a decision maker who was on the
team is refused, another one grants, and the certificate appears in the public register.

Only the accounts and the reference data are made here, through the services (a CB accepted
for AP with its staff, an organization with its sites and its user: ``World.build``). Every
step after that goes through the pages: each person signs in on the real sign-in page, in a
browser context of their own, fills the forms by their labels and reads what the page says.
The organization's answer to the major finding is given on a phone, whose screen the finding's
page must fit.

The assessment is dated in the last few days, so that the report, the answers, the reviews and
the decision can all be dated today (each form's date left empty means today).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, Route, expect

from apcert.accounts.models import User
from apcert.certificates.models import Certificate
from apcert.schemes.models import Programme, Standard
from tests.browser.conftest import DEVICES, LOOPBACK, RESULTS_DIR, TIMEOUT_MS
from tests.browser.test_register_browser import assert_fits_the_screen, navigation, search_for
from tests.factories import World

pytestmark = pytest.mark.browser

PASSWORD = "x-Long-password-1"  # tests.factories.make_user
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
WORDING = "Electroplating of copper and tin on printed wiring boards at the main plant"


class Office:
    """Opens one browser context per person, signed in on the sign-in page."""

    def __init__(self, browser: Browser, base_url: str, request: pytest.FixtureRequest) -> None:
        self.browser = browser
        self.base_url = base_url
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    @contextmanager
    def visitor(self, label: str, device: str = "desktop") -> Iterator[Page]:
        """A fresh context (no cookies) on ``device``. It fails the test on a JavaScript
        error or a request beyond the loopback, as the register's ``page`` fixture does, and
        leaves a screenshot in var/test-results/browser/ when a step inside it fails."""
        context = self.browser.new_context(
            base_url=self.base_url, locale="en-GB", **DEVICES[device]
        )
        context.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        elsewhere: list[str] = []

        def refuse(route: Route) -> None:
            elsewhere.append(route.request.url)
            route.abort()

        context.route(lambda url: not LOOPBACK.match(url), refuse)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        except BaseException:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            path = RESULTS_DIR / f"{self.test_name}-{label}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a screenshot is a help, never a second failure
                warnings.warn(f"no screenshot {path}: {exc}", pytest.PytestWarning, stacklevel=1)
            raise
        finally:
            context.close()
        assert not errors, f"JavaScript errors on {label}'s pages: {errors}"
        assert not elsewhere, f"{label}'s pages asked for resources elsewhere: {elsewhere}"

    @contextmanager
    def signed_in(self, user: User, device: str = "desktop") -> Iterator[Page]:
        """``user`` signed in through the sign-in page, on their home page."""
        with self.visitor(user.username, device) as page:
            visit(page, "/office/sign-in")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(PASSWORD)
            with navigation(page):
                page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(re.compile(r"/office/$"))
            expect(page.locator("h1")).to_have_text(str(user))
            yield page


def visit(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.status == 200, (path, response.status, page.inner_text("body")[:500])


def follow(page: Page, link: Locator) -> None:
    with navigation(page):
        link.click()


def submit(page: Page, button: Locator) -> None:
    """Press a form's button and wait for the page it leads to (a 200 after a redirect);
    on another status, what the page says is in the failure."""
    with page.expect_navigation() as info:
        button.click()
    response = info.value
    assert response is not None
    if response.status != 200:
        said = " ".join(page.locator("main").inner_text().split())
        pytest.fail(f"{response.url} answered {response.status}: {said}", pytrace=False)


def choose(select: Locator, text: str) -> None:
    """Choose the option of a drop-down whose label starts with ``text`` (labels carry more:
    the tree's indent, a person's roles)."""
    options = select.locator("option")
    labels = [" ".join(t.split()) for t in options.all_inner_texts()]
    matches = [i for i, label in enumerate(labels) if label.startswith(text)]
    assert len(matches) == 1, (text, labels)
    value = options.nth(matches[0]).get_attribute("value")
    assert value, (text, labels)
    select.select_option(value)


def status_message(page: Page) -> Locator:
    return page.locator(".messages")


def finding_section(page: Page, grade: str) -> Locator:
    """The CB's card of the one finding of ``grade`` (e.g. "Major nonconformity")."""
    return page.get_by_role(
        "region", name=re.compile(f"^Finding \\d+: {grade} against ", re.IGNORECASE)
    )


def test_an_organization_is_certified_from_application_to_the_public_register(
    live_world: World,
    browser: Browser,
    base_url: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    # given a CB accepted for AP, with a scheme manager, a lead assessor and two decision
    # makers (the first also an assessor, who will be put on the team), and an organization
    # with its sites and its user: nothing else, every step below goes through the pages
    world = live_world
    cb, org, site = world.team.cb, world.org, world.site
    manager, lead = world.team.manager, world.team.lead
    on_the_team, deciding = world.team.decision_maker2, world.team.decision_maker
    programme = Programme.objects.get(code="AP")
    iso9001 = Standard.objects.get(designation="ISO 9001", edition="2015")
    today = timezone.localdate()
    first_day, last_day = today - dt.timedelta(days=3), today - dt.timedelta(days=2)
    evidence = tmp_path / "checklist.pdf"
    evidence.write_bytes(PDF)
    office = Office(browser, base_url, request)

    # --- the organization applies ---------------------------------------------------------
    with office.signed_in(world.org_user) as page:
        follow(page, page.get_by_role("navigation", name="Back office").get_by_role(
            "link", name="Organization"
        ))  # fmt: skip
        expect(page.locator("h1")).to_have_text(org.legal_name)
        follow(page, page.get_by_role("navigation", name="Organization").get_by_role(
            "link", name="Applications"
        ))  # fmt: skip
        follow(page, page.get_by_role("link", name="Apply for certification"))
        # the CB is a chooser: a radio button per match (the one CB accepted: chosen already)
        page.get_by_role("radio", name=f"{cb.code} {cb.name}").check()
        choose(page.get_by_label("Scheme"), "IECQ AP ")
        page.get_by_label(f"{programme.code}: {programme.name}", exact=True).check()
        submit(page, page.get_by_role("button", name="Start the application"))
        expect(status_message(page)).to_contain_text(f"to {cb.code} is started as a draft")
        heading = page.locator("h1").inner_text()
        match = re.fullmatch(rf"Application (\d+) to {re.escape(cb.code)}", heading)
        assert match, heading
        app_id = int(match.group(1))

        # a scope line: electroplating at the main plant, to ISO 9001:2015 (added in place)
        scope = page.locator("#scope")
        choose(scope.get_by_label("Process category"), "EPL ")
        choose(scope.get_by_label("Site"), str(site))
        scope.get_by_label("Scope wording").fill(WORDING)
        scope.get_by_label(f"{iso9001.reference} ", exact=False).check()
        scope.get_by_role("button", name="Add the scope line").click()
        expect(page.locator("#scope [role=status]")).to_have_text(
            f"Scope line EPL at {site.name} added."
        )
        expect(page.locator("#scope table")).to_contain_text(WORDING)
        expect(page.locator("#scope")).to_contain_text(
            "The application meets the rules checked before submission."
        )
        submit(page, page.get_by_role("button", name=f"Submit to {cb.code}"))
        expect(status_message(page)).to_contain_text(
            f"Application {app_id} is submitted to {cb.code}"
        )
        expect(page.locator("dl.facts")).to_contain_text("submitted")

    # --- the scheme manager accepts it and plans the initial assessment --------------------
    with office.signed_in(manager) as page:
        follow(page, page.get_by_role("link", name="Certification body"))
        follow(page, page.get_by_role("link", name=f"Application {app_id}", exact=True))
        expect(page.locator("#status")).to_have_text("submitted")
        page.get_by_label("Note for the record (optional)").fill("Scope within our acceptance")
        submit(page, page.get_by_role("button", name="Accept the application"))
        expect(status_message(page)).to_have_text(f"Application {app_id} is accepted.")
        expect(page.locator("#status")).to_have_text("accepted")

        follow(page, page.get_by_role("link", name="Plan the initial assessment"))
        page.get_by_label("First day").fill(first_day.isoformat())
        page.get_by_label("Last day").fill(last_day.isoformat())
        choose(page.get_by_label("Lead assessor"), f"{lead} (")
        page.get_by_role("group", name="Team members").get_by_label(
            f"{on_the_team} (", exact=False
        ).check()  # fmt: skip
        submit(page, page.get_by_role("button", name="Plan the assessment"))
        expect(status_message(page)).to_have_text("The assessment is planned.")
        expect(page.locator("#status")).to_have_text("planned")
        team = page.locator("h2:text-is('Team') + ul")
        expect(team).to_contain_text(f"{lead}: lead assessor")
        expect(team).to_contain_text(f"{on_the_team}: team member")
        heading = page.locator("h1").inner_text()
        match = re.match(r"Initial assessment (\d+): ", heading)
        assert match, heading
        assessment_id = int(match.group(1))

    # --- the lead assessor starts it, records a major and a minor finding, issues the report
    with office.signed_in(lead) as page:
        follow(page, page.get_by_role("link", name="Certification body"))
        follow(page, page.get_by_role("navigation", name="Certification body").get_by_role(
            "link", name="Assessments"
        ))  # fmt: skip
        follow(page, page.get_by_role("link", name=f"Initial assessment {assessment_id}"))
        submit(page, page.get_by_role("button", name="Start the assessment"))
        expect(status_message(page)).to_have_text("The assessment is in progress.")
        expect(page.locator("#status")).to_have_text("in progress")
        for grade, clause, found in (
            ("major nonconformity", "ISO 9001:2015 8.5.1", "Plating bath records are missing"),
            ("minor nonconformity", "ISO 9001:2015 7.1.5", "One thickness gauge is overdue"),
        ):
            page.get_by_label("Grade").select_option(label=grade)
            page.get_by_label("Requirement", exact=True).select_option(label="ISO 9001 clause")
            page.get_by_label("Requirement reference").fill(clause)
            page.get_by_label("What was found").fill(found)
            submit(page, page.get_by_role("button", name="Record the finding"))
            expect(status_message(page)).to_have_text("The finding is recorded.")
            card = finding_section(page, grade.capitalize())
            expect(card).to_contain_text(found)
            expect(card).to_contain_text("open")
        page.get_by_label("Summary").fill("Two nonconformities, one of them major.")
        submit(page, page.get_by_role("button", name="Issue the report"))
        expect(status_message(page)).to_have_text("The report is issued.")
        expect(page.locator("#status")).to_have_text("report issued")

    # --- the organization answers both findings: the major on a phone, with a file ---------
    def open_finding(page: Page, grade: str) -> None:
        visit(page, f"/office/org/{org.pk}/findings/")
        row = page.locator("table tbody tr", has_text=grade)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("open")
        follow(page, row.get_by_role("link"))
        expect(page.locator("h1")).to_contain_text(grade)

    def answer(page: Page, correction: str) -> None:
        page.get_by_label("Correction").fill(correction)
        page.get_by_label("Root cause").fill("No checklist for the daily records")
        page.get_by_label("Corrective action").fill("A daily checklist, signed by the shift lead")
        page.get_by_label("Evidence (notes)").fill("The checklists of the last four weeks")
        submit(page, page.get_by_role("button", name="Send the answer"))
        expect(status_message(page)).to_contain_text("Your answer is sent to the assessment team")
        expect(page.locator("dl.facts").first).to_contain_text("answered, awaiting review")

    with office.signed_in(world.org_user, device="phone") as page:
        assert_fits_the_screen(page)
        open_finding(page, "major nonconformity")
        assert_fits_the_screen(page)
        answer(page, "Records of the last month completed")
        assert_fits_the_screen(page)
        page.get_by_label("Evidence file").set_input_files(evidence)
        submit(page, page.get_by_role("button", name="Attach the file"))
        expect(status_message(page)).to_have_text("checklist.pdf is attached to your answer.")
        expect(page.locator("ul.files")).to_contain_text("checklist.pdf")
        assert_fits_the_screen(page)
        scroll_width, inner_width = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width <= 390, (scroll_width, inner_width)

    with office.signed_in(world.org_user) as page:
        open_finding(page, "minor nonconformity")
        answer(page, "The gauge is calibrated")

    # --- the assessor accepts the answers: the major verified, the minor's plan accepted ----
    with office.signed_in(lead) as page:
        visit(page, f"/office/cb/assessments/{assessment_id}/")
        for grade, outcome in (
            ("Major nonconformity", "Verified as effective (closes the finding)"),
            ("Minor nonconformity", "Accept the plan (to be verified later)"),
        ):
            card = finding_section(page, grade)
            expect(card).to_contain_text("answered, awaiting review")
            if grade.startswith("Major"):
                expect(card.get_by_role("link", name="checklist.pdf")).to_be_visible()
            review = card.get_by_role("form", name=re.compile(r"^Review corrective action \d+$"))
            review.get_by_label(outcome).check()
            review.get_by_label("Comment").fill("Seen on the records")
            submit(page, review.get_by_role("button", name="Record the review"))
            expect(status_message(page)).to_contain_text("is reviewed.")
        expect(finding_section(page, "Major nonconformity")).to_contain_text("closed (verified)")
        expect(finding_section(page, "Minor nonconformity")).to_contain_text(
            "corrective action plan accepted"
        )

    # --- the decision maker who was on the team is refused, and told why ------------------
    def open_decision(page: Page) -> None:
        follow(page, page.get_by_role("link", name="Certification body"))
        follow(page, page.get_by_role("navigation", name="Certification body").get_by_role(
            "link", name="Assessments"
        ))  # fmt: skip
        follow(page, page.get_by_role("link", name=f"Initial assessment {assessment_id}"))
        follow(page, page.get_by_role("link", name="Check the rules and decide on certification"))
        expect(page.locator("h1")).to_have_text(f"Certification decision: {org.legal_name}")

    with office.signed_in(on_the_team) as page:
        open_decision(page)
        grant = page.get_by_role("region", name="Grant certification")
        expect(grant.locator("#grant-blockers")).to_have_text("1 rule still blocks this decision.")
        refused = grant.locator(".rule-fail")
        expect(refused).to_have_count(1)
        expect(refused).to_contain_text(
            f"{on_the_team} was on the assessment team and may not take the certification "
            "decision. Another decision maker of the CB must decide."
        )
        expect(refused).to_contain_text("decision.maker_on_team")
        # the button is there (the rules are checked again for the date asked), and refused
        grant.get_by_label("Rationale").fill("Everything is verified.")
        with page.expect_navigation() as refused_answer:
            grant.get_by_role("button", name="Grant certification").click()
        assert refused_answer.value is not None and refused_answer.value.status == 409
        expect(page.locator("main")).to_contain_text(
            "was on the assessment team and may not take the certification decision"
        )
        expect(page.locator("h1")).to_have_text(f"Certification decision: {org.legal_name}")
        assert not Certificate.objects.exists()

    # --- another decision maker grants -------------------------------------------------------
    with office.signed_in(deciding) as page:
        open_decision(page)
        grant = page.get_by_role("region", name="Grant certification")
        expect(grant.locator("#grant-blockers")).to_have_text("Every rule is met.")
        expect(grant.locator(".rule-fail")).to_have_count(0)
        grant.get_by_label("Rationale").fill("The major is verified; the minor has a plan.")
        submit(page, page.get_by_role("button", name="Grant certification"))
        message = status_message(page).inner_text()
        match = re.fullmatch(r"Certification is granted: (IECQ-A \S+ \d\d\.\d{4})\.", message)
        assert match, message
        number = match.group(1)
        expect(page.locator("h1")).to_have_text(number)
        expect(page.locator("#status")).to_contain_text("Current since")

    # --- anyone finds the certificate in the public register --------------------------------
    with office.visitor("public") as page:
        visit(page, "/")
        search_for(page, org.legal_name)
        hits = page.locator("#results > li")
        expect(hits).to_have_count(1)
        expect(hits.first).to_contain_text(org.legal_name)
        follow(page, hits.first.get_by_role("link", name=number))
        expect(page.locator("h1")).to_contain_text(number)
        expect(page.locator("#status")).to_contain_text("Current")
        main = page.locator("main")
        expect(main).to_contain_text(org.legal_name)
        expect(main).to_contain_text(WORDING)
        expect(main).to_contain_text(iso9001.reference)
        for private in ("Plating bath records are missing", "checklist.pdf"):
            assert private not in page.content()
