"""The main pages of every section, for each role, in a world with data: what the tests that
read every page look at (tests/test_web_wording.py: headings and dates; tests/e2e/test_axe.py:
accessibility in a browser).

To look at a new screen in those tests, add a row to ``PAGES``: the role that opens it, a
name, and the address, built from the world's objects (``PagesWorld.ids``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.urls import reverse

from apcert.accounts.models import User
from apcert.accounts.services import invitation_create
from apcert.bodies.models import CBAcceptance
from apcert.certificates.services import certificate_publication_return
from apcert.organizations.services import organization_create
from apcert.schemes.services import scheme_publication_review_set
from apcert.webhooks.choices import DeliveryState
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery
from apcert.webhooks.services import webhook_subscribe
from tests.factories import DAY0, World

#: The day every page is read on: after the world's assessments and decisions, so that the
#: dashboards have visits due and findings open.
TODAY = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

SECRETARIAT, CB_MANAGER, CB_LEAD, CB_DECIDER, ORG_USER, PUBLIC = (
    "secretariat",
    "cb_manager",
    "cb_lead",
    "cb_decider",
    "org_user",
    "public",
)


@dataclass
class PagesWorld:
    """A CB with a granted certificate, an assessment with open findings, applications in
    several states, a certificate awaiting the Secretariat's review and an invitation."""

    world: World
    users: dict[str, User] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)


def build_pages_world() -> PagesWorld:
    """Made through the services; the caller has the reference data loaded and the clock at
    ``TODAY``."""
    w = World.build()
    certificate = w.granted()
    in_progress = w.assessment(
        w.accepted_application(),
        start=DAY0 + dt.timedelta(days=30),
        # two alike: the pages must still tell them apart
        findings=("major", "minor", "minor"),
    )
    major = in_progress.findings.get(grade="major")
    w.answer(major)
    accepted = w.accepted_application()  # to plan an assessment for
    draft = w.draft_application()
    scheme_publication_review_set(actor=w.secretariat, scheme=w.scheme, enabled=True)
    pending = w.granted()
    returned = w.granted()
    certificate_publication_return(actor=w.secretariat, certificate=returned, reason="Wording")
    scheme_publication_review_set(actor=w.secretariat, scheme=w.scheme, enabled=False)
    invitation_create(
        actor=w.secretariat, email="new@plating.example", organization=w.org, org_role="member"
    )
    # More places than a chooser lists without a search box.
    for i in range(12):
        organization_create(actor=w.secretariat, legal_name=f"Supplier {i:02d} Ltd", country="GB")
    acceptance = CBAcceptance.objects.filter(cb=w.team.cb).order_by("pk").first()
    assert acceptance is not None
    # The organization's webhook, subscribed before a grant: one event in its log, tried
    # once (the receiver was down) and then accepted.
    webhook = webhook_subscribe(
        actor=w.org_user,
        place=w.org,
        name="Supplier database",
        url="https://erp.plating.example/hooks",
        event_types=["certificate.granted", "certificate.suspended"],
    ).subscription
    w.granted()
    delivery = WebhookDelivery.objects.get(subscription=webhook)
    for status, excerpt in ((503, "down for maintenance"), (204, "")):
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=TODAY,
            duration_ms=12,
            status_code=status,
            response_excerpt=excerpt,
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.DELIVERED, delivered_at=TODAY, attempts=2
    )
    pages = PagesWorld(
        world=w,
        users={
            SECRETARIAT: w.secretariat,
            CB_MANAGER: w.team.manager,
            CB_LEAD: w.team.lead,
            CB_DECIDER: w.team.decision_maker,
            ORG_USER: w.org_user,
        },
    )
    pages.ids.update(
        cb=w.team.cb.pk,
        acceptance=acceptance.pk,
        org=w.org.pk,
        certificate=certificate.pk,
        pending=pending.pk,
        returned=returned.pk,
        application=certificate.application_id,
        accepted=accepted.pk,
        draft=draft.pk,
        assessment=in_progress.pk,
        finding=major.pk,
        webhook=webhook.pk,
    )
    pages.text.update(number=certificate.number)
    return pages


@dataclass(frozen=True)
class Page:
    """One page to read: who opens it, its name in test ids, and its address. ``act``, for
    the browser tests only, does something on the page first (types a search, say) and
    waits for the page to answer; the page is then checked as it stands."""

    role: str
    name: str
    address: Callable[[PagesWorld], str]
    act: Callable[[Any], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.role}-{self.name}"


def at(name: str, fixed: dict[str, str] | None = None, **keys: str) -> Callable[[PagesWorld], str]:
    """The address of route ``name``, each argument an id of the world (``pk="draft"``) or,
    in ``fixed``, a value as it is (``{"action": "suspend"}``)."""
    return lambda p: reverse(
        name, kwargs={**(fixed or {}), **{arg: p.ids[key] for arg, key in keys.items()}}
    )


def search_chooser(field_name: str, query: str) -> Callable[[Any], None]:
    """Type ``query`` in the search box of the chooser of ``field_name`` (a Playwright page),
    and wait for htmx to bring its matches."""

    def act(page: Any) -> None:
        page.locator(f"#id_{field_name}_q").press_sequentially(query)
        page.wait_for_function(
            "([id, query]) => document.getElementById(id).textContent.includes(query)",
            arg=[f"id_{field_name}_count", query],
        )

    return act


def _cb_pages(role: str) -> list[Page]:
    return [
        Page(role, "cb-applications", at("web:cb:applications")),
        Page(role, "cb-application", at("web:cb:application", pk="application")),
        Page(role, "cb-assessments", at("web:cb:assessments")),
        Page(role, "cb-assessment", at("web:cb:assessment", pk="assessment")),
        Page(role, "cb-decision", at("web:cb:decision", pk="assessment")),
        Page(role, "cb-certificates", at("web:cb:certificates")),
        Page(role, "cb-certificate", at("web:cb:certificate", pk="certificate")),
        Page(role, "cb-certificate-returned", at("web:cb:certificate", pk="returned")),
    ]


def _org_pages(role: str) -> list[Page]:
    return [
        Page(role, "org-profile", at("web:org:profile", org_id="org")),
        Page(role, "org-applications", at("web:org:applications", org_id="org")),
        Page(role, "org-application", at("web:org:application", org_id="org", app_id="draft")),
        Page(role, "org-findings", at("web:org:findings", org_id="org")),
        Page(role, "org-finding", at("web:org:finding", org_id="org", finding_id="finding")),
        Page(role, "org-reports", at("web:org:assessment-reports", org_id="org")),
        Page(
            role,
            "org-report",
            at("web:org:assessment-report-html", org_id="org", pk="assessment"),
        ),
        Page(role, "org-certificates", at("web:org:certificates", org_id="org")),
        Page(
            role,
            "org-certificate",
            at("web:org:certificate", org_id="org", cert_id="certificate"),
        ),
    ]


PAGES: list[Page] = [
    # --- the Secretariat: its own section, and every CB's and organization's records ----
    Page(SECRETARIAT, "home", at("web:home")),
    Page(SECRETARIAT, "invitations", at("web:invitations")),
    Page(SECRETARIAT, "invitation-new", at("web:invitation-new")),
    Page(
        SECRETARIAT,
        "invitation-new-search",
        at("web:invitation-new"),
        act=search_chooser("target", "Supplier 1"),
    ),
    Page(SECRETARIAT, "sec-cbs", at("web:sec:cbs")),
    Page(SECRETARIAT, "sec-cb-new", at("web:sec:cb-new")),
    Page(SECRETARIAT, "sec-cb", at("web:sec:cb", pk="cb")),
    Page(SECRETARIAT, "sec-acceptance", at("web:sec:acceptance-status", pk="acceptance")),
    Page(SECRETARIAT, "sec-reference", at("web:sec:reference")),
    Page(SECRETARIAT, "sec-certificates", at("web:sec:certificates")),
    Page(SECRETARIAT, "sec-reviews", at("web:sec:publication-reviews")),
    Page(SECRETARIAT, "sec-review", at("web:sec:publication-review", pk="pending")),
    Page(SECRETARIAT, "org-list", at("web:org:organizations")),
    *_cb_pages(SECRETARIAT),
    *_org_pages(SECRETARIAT),
    # --- a CB's staff ---------------------------------------------------------------------
    Page(CB_MANAGER, "home", at("web:home")),
    *_cb_pages(CB_MANAGER),
    Page(CB_MANAGER, "cb-assessment-plan", at("web:cb:assessment-plan", pk="accepted")),
    Page(
        CB_MANAGER,
        "cb-certificate-plan-surveillance",
        at("web:cb:certificate-plan", {"kind": "surveillance"}, pk="certificate"),
    ),
    Page(
        CB_MANAGER,
        "cb-certificate-plan-special",
        at("web:cb:certificate-plan", {"kind": "special"}, pk="certificate"),
    ),
    Page(CB_MANAGER, "cb-transfer-in", at("web:cb:transfer-in")),
    Page(CB_MANAGER, "cb-calendar", at("web:cb:calendar")),
    Page(CB_MANAGER, "cb-certificate-history", at("web:cb:certificate-history", pk="certificate")),
    Page(CB_MANAGER, "cb-assessment-history", at("web:cb:assessment-history", pk="assessment")),
    Page(CB_MANAGER, "cb-application-history", at("web:cb:application-history", pk="application")),
    Page(CB_MANAGER, "messages", at("web:messages")),
    Page(CB_MANAGER, "mail-preferences", at("web:mail-preferences")),
    Page(CB_LEAD, "home", at("web:home")),
    Page(CB_LEAD, "cb-assessment", at("web:cb:assessment", pk="assessment")),
    Page(CB_LEAD, "cb-report", at("web:cb:assessment-report-html", pk="assessment")),
    Page(CB_LEAD, "messages", at("web:messages")),
    Page(CB_LEAD, "cb-calendar-feed", at("web:cb:calendar-feed")),
    Page(CB_DECIDER, "home", at("web:home")),
    Page(CB_DECIDER, "cb-certificate", at("web:cb:certificate", pk="certificate")),
    Page(
        CB_DECIDER,
        "cb-certificate-suspend",
        at("web:cb:certificate-action", {"action": "suspend"}, pk="certificate"),
    ),
    Page(
        CB_DECIDER,
        "cb-certificate-withdraw",
        at("web:cb:certificate-action", {"action": "withdraw"}, pk="certificate"),
    ),
    Page(CB_DECIDER, "cb-decision", at("web:cb:decision", pk="assessment")),
    Page(CB_DECIDER, "messages", at("web:messages")),
    # --- an organization's administrator ----------------------------------------------------
    Page(ORG_USER, "home", at("web:home")),
    Page(ORG_USER, "invitations", at("web:invitations")),
    Page(ORG_USER, "invitation-new", at("web:invitation-new")),
    Page(ORG_USER, "org-application-new", at("web:org:application-new", org_id="org")),
    Page(ORG_USER, "org-site-new", at("web:org:site-new", org_id="org")),
    *_org_pages(ORG_USER),
    Page(
        ORG_USER,
        "org-certificate-history",
        at("web:org:certificate-history", org_id="org", cert_id="certificate"),
    ),
    Page(ORG_USER, "messages", at("web:messages")),
    Page(ORG_USER, "mail-preferences", at("web:mail-preferences")),
    Page(ORG_USER, "webhooks", at("web:webhooks")),
    Page(ORG_USER, "webhook-new", at("web:webhook-new")),
    Page(ORG_USER, "webhook", at("web:webhook", pk="webhook")),
    # --- anyone: the public register, and a page no one has --------------------------------
    Page(PUBLIC, "register-search", lambda p: "/"),
    Page(PUBLIC, "register-certificate", lambda p: f"/certificates/{quote(p.text['number'])}"),
    Page(PUBLIC, "register-bodies", at("register:bodies")),
    Page(PUBLIC, "webhooks-subscribe", at("webhooks:subscribe")),
    Page(PUBLIC, "sign-in", at("web:sign-in")),
]

#: Error pages: shown on purpose, with their status.
ERROR_PAGES: list[tuple[Page, int]] = [
    (Page(SECRETARIAT, "office-404", lambda p: "/office/no-such-page"), 404),
    (Page(ORG_USER, "office-403", at("web:sec:cbs")), 403),
    (Page(PUBLIC, "public-404", lambda p: "/no-such-page"), 404),
]
