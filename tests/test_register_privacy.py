"""Privacy of the public register: private data planted in every private
place (a draft application, findings and corrective actions, assessor and decision-maker
names, an unpublished site, free-text reasons, decision rationales, registration details) is
shown by no page, API answer, export or feed, and found by no search.

What the scheme keeps private: applications, assessments, findings, corrective actions, decision
records, people and drafts are private; so are sites the holder does not publish.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

import pytest
from django.test import Client

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_accept, application_submit, scope_line_add
from apcert.assessments.models import CorrectiveAction, Finding
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.services import (
    certificate_grant,
    certificate_restore,
    certificate_suspend,
)
from apcert.organizations.models import Organization
from apcert.organizations.services import organization_create
from apcert.register.search import SearchQuery, search
from apcert.schemes.models import ProcessCategory
from tests.factories import DAY0, World

pytestmark = pytest.mark.django_db

GRANTED_ON = dt.date(2026, 3, 24)
SECRETS = {
    "draft holder": "Zyxwinder Draft Holdings",
    "finding": "Qwelmfinding unlocked cabinet",
    "corrective action": "Brokkaction retrain staff",
    "assessor": "Agathe Prynnlead",
    "decision maker": "Dorotea Vexmaker",
    "unpublished site": "Hushplant",
    "unpublished city": "Verborgenheim",
    "suspension reason": "Kvistreason bribery complaint",
    "restore reason": "Frullreason settled quietly",
    "rationale": "Grommrationale borderline",
    "registration": "HRB Snarfreg",
    "draft successor": "IECQ-A QUIETCB 26.0999",
}


def plant_private_data(world: World) -> Certificate:
    """A certificate with history, and private data in every private place around it."""
    # an organization with only a draft application
    secret_org = organization_create(
        actor=world.org_user, legal_name=SECRETS["draft holder"], country="DE"
    )
    world_draft = World(
        world.secretariat, world.scheme, world.programme, world.team, secret_org,
        world.org_user, world.site, world.site2,
    )  # fmt: skip
    assert world_draft.org.pk == secret_org.pk
    # people with names
    User.objects.filter(pk=world.team.lead.pk).update(full_name=SECRETS["assessor"])
    User.objects.filter(pk=world.team.decision_maker.pk).update(full_name=SECRETS["decision maker"])
    # an unpublished site in the certificate's scope
    world.site2.name = SECRETS["unpublished site"]
    world.site2.city = SECRETS["unpublished city"]
    world.site2.save(update_fields=["name", "city"])
    app = world.draft_application(category="EPL")
    scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="PWB"),
        site=world.site2,
        wording="Printed boards, plating line",
        standards=("ISO 9001:2015",),
    )
    application_submit(actor=world.org_user, application=app, on=DAY0)
    app = application_accept(actor=world.team.manager, application=app)
    assessment = world.assessment(app, findings=("major", "minor", "observation"))
    Finding.objects.filter(assessment=assessment).update(description=SECRETS["finding"])
    world.resolve_findings(assessment)
    CorrectiveAction.objects.filter(finding__assessment=assessment).update(
        action=SECRETS["corrective action"]
    )
    Organization.objects.filter(pk=world.org.pk).update(
        registration_number=SECRETS["registration"], address="12 Quietway"
    )
    cert = certificate_grant(
        actor=world.team.decision_maker,
        application=app,
        assessment=assessment,
        decided_on=GRANTED_ON,
    )
    Decision.objects.filter(certificate=cert).update(rationale=SECRETS["rationale"])
    cert = certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason=SECRETS["suspension reason"],
        decided_on=dt.date(2026, 6, 1),
    )
    cert = certificate_restore(
        actor=world.team.decision_maker,
        certificate=cert,
        reason=SECRETS["restore reason"],
        decided_on=dt.date(2026, 7, 1),
    )
    # a draft that names the certificate as the one it was transferred from: the links of a
    # transfer name public certificates only
    Certificate.objects.create(
        number=SECRETS["draft successor"], number_year=2026, number_serial=999, cb=cert.cb,
        scheme=cert.scheme, organization=cert.organization, application=cert.application,
        status="draft", status_since=cert.status_since, first_issued_on=cert.first_issued_on,
        initial_decision_on=cert.initial_decision_on, expires_on=cert.expires_on,
        transferred_from=cert,
    )  # fmt: skip
    # (each secret really is stored, so that finding none of them means something)
    assert Finding.objects.filter(description=SECRETS["finding"]).count() == 3
    assert CorrectiveAction.objects.filter(action=SECRETS["corrective action"]).count() == 2
    assert Decision.objects.filter(rationale=SECRETS["rationale"]).count() == 1
    reasons = set(cert.status_changes.values_list("reason", flat=True))
    assert {SECRETS["suspension reason"], SECRETS["restore reason"]} <= reasons
    sites = cert.issues.get(issue_number=1).sites
    assert {s["city"] for s in sites} == {"Dresden", SECRETS["unpublished city"]}
    # and the draft holder's application never leaves draft
    world_draft.draft_application(category="")
    assert Application.objects.filter(organization=secret_org, status="draft").exists()
    return cert


def public_urls(cert: Certificate) -> list[str]:
    number = quote(cert.number)
    org = cert.organization_id
    cb = quote(cert.cb.code)
    # (secrets are not typed into searches here: a search page repeats what was asked)
    queries = ["", "plating", cert.number, "Printed boards", "main plant"]
    return [
        *(f"/?{urlencode({'q': q})}" for q in queries),
        f"/?{urlencode({'status': 'current', 'country': 'DE'})}",
        f"/certificates/{number}",
        f"/certificates/{number}?on=2026-06-15&category=PWB",
        f"/certificates/{number}?on=2026-08-01",
        f"/organizations/{org}",
        "/bodies/",
        f"/bodies/{cb}",
        f"/api/public/certificates/{number}",
        f"/api/public/certificates/{number}/history",
        f"/api/public/certificates/{number}/as-of?date=2026-06-15",
        *(f"/api/public/search?{urlencode({'q': q})}" for q in queries),
        f"/api/public/organizations/{org}",
        "/api/public/bodies",
        f"/api/public/bodies/{cb}",
        "/register/export.csv",
        "/register/export.jsonl",
        "/register/feed.atom",
        "/register/feed.json",
        f"/register/feed.json?{urlencode({'cb': cert.cb.code})}",
        "/register/audit-head.json",
    ]


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_no_public_output_shows_private_data(world: World, client: Client) -> None:
    # given private data in every private place around a public certificate
    cert = plant_private_data(world)
    # when every public page, API answer, export and feed is read
    pages = {}
    for url in public_urls(cert):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        pages[url] = body_of(response)
    # then the certificate is there, and no secret is, anywhere
    assert cert.number in pages[f"/api/public/certificates/{quote(cert.number)}"]
    assert cert.number in pages["/register/export.jsonl"]
    assert cert.number in pages["/register/feed.atom"]
    leaks = [
        (what, url) for url, text in pages.items() for what, secret in SECRETS.items()
        if secret in text or quote(secret) in text
    ]  # fmt: skip
    assert leaks == []


def test_no_search_finds_private_data(world: World) -> None:
    plant_private_data(world)
    for what, secret in SECRETS.items():
        result = search(SearchQuery(text=secret))
        assert result.hits == [], what
        # nor does a single distinctive word of it (typo correction included)
        word = {"registration": "Snarfreg", "draft successor": "QUIETCB"}.get(
            what, secret.split()[0]
        )
        assert search(SearchQuery(text=word)).hits == [], (what, word)


def test_a_holder_with_only_a_draft_has_no_public_page(world: World, client: Client) -> None:
    plant_private_data(world)
    secret_org = Organization.objects.get(legal_name=SECRETS["draft holder"])
    assert client.get(f"/organizations/{secret_org.pk}").status_code == 404
    assert client.get(f"/api/public/organizations/{secret_org.pk}").status_code == 404


def test_public_pages_load_nothing_from_other_sites(world: World, client: Client) -> None:
    # A script or style from a third party would tell it who checked which supplier.
    import re

    cert = world.granted()
    for url in ("/", f"/certificates/{quote(cert.number)}", "/bodies/", "/api/public/docs"):
        response = client.get(url)
        assert response.status_code == 200, url
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', response.content.decode())
        assert external == [], url


def test_the_certificate_pdf_shows_no_private_data(world: World, client: Client) -> None:
    # The PDF's text is compressed, so the page test above could not see into it: read it.
    import io

    from pypdf import PdfReader

    # given private data in every private place, and an unpublished site in the scope
    cert = plant_private_data(world)
    # when the PDF of each issue is downloaded
    texts = []
    for issue_number in range(1, cert.current_issue_number + 1):
        response = client.get(f"/certificates/{quote(cert.number)}/issues/{issue_number}.pdf")
        assert response.status_code == 200, issue_number
        reader = PdfReader(io.BytesIO(response.content))
        texts.extend(page.extract_text() for page in reader.pages)
        texts.extend(str(value) for value in (reader.metadata or {}).values())
        texts.extend(f"{a.name} {a.content.decode()}" for a in reader.attachment_list)
    # then it is the certificate, with the unpublished site's scope line but not the site
    text = "\n".join(texts)
    assert cert.number in text
    assert "Printed boards, plating line" in text
    assert "not published" in text
    leaks = [what for what, secret in SECRETS.items() if secret in text]
    assert leaks == []
