"""The organization section of the back office: an organization's users keep its
profile and sites, apply for certification, answer findings with evidence files, and see
their certificates. Each screen: the allowed role completes its action through the web
client (with the audit event), refused roles get 403 or 404 with nothing changed, another
organization's id in the address is a 404, refusals show next to the field, and list pages
run a bounded number of queries.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.models import User
from apcert.applications.models import Application, ScopeLine
from apcert.applications.services import application_reject, application_submit
from apcert.assessments.errors import EVIDENCE_NO_ANSWER
from apcert.assessments.models import Assessment, CorrectiveAction, EvidenceFile, Finding
from apcert.audit.models import AuditEvent
from apcert.certificates.models import Certificate
from apcert.organizations.models import Site
from apcert.organizations.services import organization_member_add, site_create
from apcert.schemes.models import ProcessCategory, Programme, Scheme, Standard
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

#: A list page's queries, whatever its length: the session and the user (2), the navigation's
#: role checks (4), the organization and whether the viewer acts for it (2), the list's count
#: and page (2), the session's renewal (3).
MAX_QUERIES = 14

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def text(response: HttpResponse) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def field_error(response: HttpResponse, field: str) -> str:
    """The error text shown next to a form field (by its id), or '' if none."""
    html = response.content.decode()
    found = re.search(rf'id="id_{field}_error">(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else ""


def last_audit() -> AuditEvent:
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    return event


def audit_count() -> int:
    return AuditEvent.objects.count()


def org_url(world: World, rest: str = "") -> str:
    return f"/office/org/{world.org.pk}/{rest}"


@pytest.fixture
def other(world: World) -> World:
    """Another CB and another organization, with their own users."""
    return World.build()


@pytest.fixture
def member(world: World) -> User:
    """A plain member (not an administrator) of the world's organization."""
    user = make_user("member")
    organization_member_add(actor=world.org_user, organization=world.org, user=user)
    return user


@pytest.fixture
def evidence_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR  # type: ignore[no-any-return]


# --- the section and its navigation -------------------------------------------------------------


def test_an_organization_user_is_taken_to_their_organization(client: Client, world: World) -> None:
    client.force_login(world.org_user)
    response = client.get("/office/org/")
    assert response.status_code == 302
    assert response["Location"] == org_url(world)


def test_the_navigation_offers_the_section_to_organization_users_only(
    client: Client, world: World
) -> None:
    client.force_login(world.org_user)
    assert 'href="/office/org/"' in client.get("/office/").content.decode()
    client.force_login(world.team.manager)
    assert 'href="/office/org/"' not in client.get("/office/").content.decode()


def test_someone_of_no_organization_is_refused_the_section(client: Client, world: World) -> None:
    client.force_login(world.team.manager)
    response = client.get("/office/org/")
    assert response.status_code == 403
    assert "for the users of an organization" in text(response)


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: World) -> None:
    response = client.get(org_url(world))
    assert response.status_code == 302
    assert response["Location"].startswith("/office/sign-in?next=")


def test_the_secretariat_lists_every_organization_filtered_and_sorted(
    client: Client, world: World, other: World, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.secretariat)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get("/office/org/", {"sort": "-name"})
    assert response.status_code == 200
    page = text(response)
    assert world.org.legal_name in page and other.org.legal_name in page
    response = client.get("/office/org/", {"q": other.org.legal_name})
    assert other.org.legal_name in text(response)
    assert world.org.legal_name not in text(response)


# --- 1. profile and sites -----------------------------------------------------------------------


def test_the_profile_shows_the_organization_and_its_sites(client: Client, world: World) -> None:
    client.force_login(world.org_user)
    response = client.get(org_url(world))
    assert response.status_code == 200
    page = text(response)
    assert world.org.legal_name in page
    assert world.org.registration_number in page
    assert "Main plant Dresden DE" in page
    assert "Second plant Leipzig DE" in page and "not published" in page
    assert f'href="{org_url(world, "sites/new")}"' in response.content.decode()


def test_the_sites_list_filters_sorts_and_pages_in_bounded_queries(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        site_create(
            actor=world.org_user,
            organization=world.org,
            name=f"Plant {n:02d}",
            city="Zwickau",
            country="DE",
            published=n % 2 == 0,
        )
    client.force_login(world.org_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(org_url(world), {"published": "0", "sort": "-name"})
    page = text(response)
    assert "16 found" in page  # 15 new unpublished sites and "Second plant"
    assert page.index("Second plant") < page.index("Plant 29")
    assert "Plant 28" not in page
    second = client.get(org_url(world), {"sort": "name", "page": "2"})
    # page 1: "Main plant", Plant 00 to Plant 23; page 2 the rest
    assert "Plant 24" in text(second) and "Plant 23" not in text(second)


def test_a_member_adds_a_site(client: Client, world: World, member: User) -> None:
    client.force_login(member)
    form = client.get(org_url(world, "sites/new"))
    assert form.status_code == 200
    html = form.content.decode()
    for name, label in (("name", "Site name"), ("city", "City"), ("country", "Country")):
        assert f'<label for="id_{name}">{label}</label>' in html
    assert '<label for="id_published">Show this site in the public register</label>' in html

    response = client.post(
        org_url(world, "sites/new"),
        {"name": "Test lab", "city": "Chemnitz", "country": "de", "address": "Hauptstr. 1"},
        follow=True,
    )

    assert response.redirect_chain == [(org_url(world), 302)]
    assert "The site Test lab, Chemnitz (DE) is added." in text(response)
    site = Site.objects.get(organization=world.org, name="Test lab")
    assert (site.city, site.country, site.published) == ("Chemnitz", "DE", False)
    event = last_audit()
    assert (event.action, event.actor_id, event.object_id) == (
        "site.create",
        member.pk,
        str(site.pk),
    )


def test_site_refusals_show_next_to_their_field(client: Client, world: World) -> None:
    client.force_login(world.org_user)
    before = (Site.objects.count(), audit_count())

    duplicate = client.post(
        org_url(world, "sites/new"), {"name": "Main plant", "city": "Dresden", "country": "DE"}
    )
    assert duplicate.status_code == 400
    assert "already has a site called Main plant" in field_error(duplicate, "name")

    bad_country = client.post(
        org_url(world, "sites/new"), {"name": "New", "city": "Dresden", "country": "D1"}
    )
    assert bad_country.status_code == 400
    assert "is not a country code" in field_error(bad_country, "country")

    missing = client.post(org_url(world, "sites/new"), {"name": "New", "country": "DE"})
    assert missing.status_code == 400
    assert "This field is required." in field_error(missing, "city")
    assert (Site.objects.count(), audit_count()) == before


def test_other_tenants_get_404_and_change_nothing(
    client: Client, world: World, other: World
) -> None:
    before = (Site.objects.count(), audit_count())
    for user in (other.org_user, world.team.manager, world.team.lead):
        client.force_login(user)
        assert client.get(org_url(world)).status_code == 404
        assert client.get(org_url(world, "sites/new")).status_code == 404
        response = client.post(
            org_url(world, "sites/new"), {"name": "Forced", "city": "X", "country": "DE"}
        )
        assert response.status_code == 404
    assert (Site.objects.count(), audit_count()) == before


def test_the_secretariat_sees_the_profile(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    response = client.get(org_url(world))
    assert response.status_code == 200
    assert "Main plant" in text(response)


# --- 2. applications ----------------------------------------------------------------------------


def _apply_form(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "cb": world.team.cb.pk,
        "scheme": world.scheme.pk,
        "programmes": [world.programme.pk],
        **extra,
    }


def test_an_organization_user_applies_end_to_end(
    client: Client, world: World, member: User
) -> None:
    not_accepted = World.make_cb(world.secretariat, "NA1", DAY0, programmes=())
    client.force_login(member)

    # the form offers the accepted CBs only, with labelled fields
    form = client.get(org_url(world, "applications/new"))
    assert form.status_code == 200
    html = form.content.decode()
    assert f"{world.team.cb.code} {world.team.cb.name}" in html
    assert not_accepted.cb.code not in html
    assert "<legend>Certification body</legend>" in html  # a chooser
    assert "<legend>Programmes</legend>" in html
    # the one scheme apcert runs is chosen already
    (scheme,) = Scheme.objects.filter(supported=True)
    assert re.search(rf'<option value="{scheme.pk}"[^>]*selected', html)

    # start the draft
    response = client.post(
        org_url(world, "applications/new"), _apply_form(world, design_claimed="on"), follow=True
    )
    app = Application.objects.get(organization=world.org)
    assert response.redirect_chain == [(org_url(world, f"applications/{app.pk}/"), 302)]
    assert (app.status, app.cb_id, app.design_claimed) == ("draft", world.team.cb.pk, True)
    assert list(app.programmes.values_list("code", flat=True)) == ["AP"]
    assert (last_audit().action, last_audit().actor_id) == ("application.create", member.pk)
    page = text(response)
    assert "Declare at least one scope line." in page
    assert "Add a scope line" in page

    # a scope line: the electroplating category at the main plant, against ISO 9001:2015
    iso = Standard.objects.get(designation="ISO 9001", edition="2015")
    line_form = {
        "category": ProcessCategory.objects.get(code="EPL").pk,
        "site": world.site.pk,
        "wording": "Electroplating of connector contacts",
        "standards": [iso.pk],
    }
    response = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"), line_form, follow=True
    )
    assert response.redirect_chain == [(org_url(world, f"applications/{app.pk}/#scope"), 302)]
    line = ScopeLine.objects.get(application=app)
    assert (line.category.code, line.site_id, line.wording) == (
        "EPL",
        world.site.pk,
        "Electroplating of connector contacts",
    )
    assert list(line.standards.all()) == [iso]
    assert last_audit().action == "application.scope_line_add"
    # design is claimed without a design line: the rule is listed before submission
    assert "needs a design scope line" in text(response)

    design = {
        **line_form,
        "category": ProcessCategory.objects.get(code="DES.PCB").pk,
        "wording": "Design of printed boards",
    }
    response = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"), design, follow=True
    )
    assert "The application meets the rules checked before submission." in text(response)

    # submit
    response = client.post(org_url(world, f"applications/{app.pk}/submit"), follow=True)
    assert response.redirect_chain == [(org_url(world, f"applications/{app.pk}/"), 302)]
    app.refresh_from_db()
    assert app.status == "submitted"
    assert (last_audit().action, last_audit().actor_id) == ("application.submit", member.pk)
    assert f"Waiting for {world.team.cb.code} to accept or reject" in text(response)
    assert "Add a scope line" not in text(response)


def test_a_scope_line_added_with_htmx_re_renders_the_scope_in_place(
    client: Client, world: World
) -> None:
    app = world.draft_application(category="")
    client.force_login(world.org_user)
    page = client.get(org_url(world, f"applications/{app.pk}/")).content.decode()
    assert 'hx-post="/office/org/' in page and 'hx-target="#scope"' in page

    response = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"),
        {
            "category": ProcessCategory.objects.get(code="EPL").pk,
            "site": world.site2.pk,
            "wording": "Plating",
            "standards": [Standard.objects.get(designation="ISO 9001", edition="2015").pk],
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the scope section only, swapped in by htmx
    assert '<section id="scope"' in html
    assert "Scope line EPL at Second plant added." in text(response)
    assert ScopeLine.objects.filter(application=app, site=world.site2).exists()

    # a refusal comes back in place too, next to its field, as a 200 that htmx swaps in
    again = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"),
        {
            "category": ProcessCategory.objects.get(code="EPL").pk,
            "site": world.site2.pk,
            "wording": "Plating",
            "standards": [Standard.objects.get(designation="ISO 9001", edition="2008").pk],
        },
        HTTP_HX_REQUEST="true",
    )
    assert again.status_code == 200
    assert "declare the current edition, ISO 9001:2015" in field_error(again, "standards")
    assert ScopeLine.objects.filter(application=app).count() == 1


def test_scope_line_refusals_show_next_to_their_field(client: Client, world: World) -> None:
    app = world.draft_application()
    client.force_login(world.org_user)
    before = (ScopeLine.objects.count(), audit_count())
    url = org_url(world, f"applications/{app.pk}/scope-lines")
    epl = ProcessCategory.objects.get(code="EPL").pk
    iso = Standard.objects.get(designation="ISO 9001", edition="2015").pk
    superseded = Standard.objects.get(designation="IEC 61340-5-1", edition="2007").pk

    response = client.post(
        url, {"category": epl, "site": world.site2.pk, "wording": "x", "standards": [superseded]}
    )
    assert response.status_code == 400
    assert "IEC 61340-5-1:2007 has been superseded; declare the current edition, " in (
        field_error(response, "standards")
    )

    no_wording = client.post(
        url, {"category": epl, "site": world.site2.pk, "wording": " ", "standards": [iso]}
    )
    assert no_wording.status_code == 400
    assert field_error(no_wording, "wording")

    duplicate = client.post(
        url, {"category": epl, "site": world.site.pk, "wording": "again", "standards": [iso]}
    )
    assert duplicate.status_code == 400
    assert "The scope already has EPL at Main plant." in text(duplicate)
    assert (ScopeLine.objects.count(), audit_count()) == before


def test_a_site_of_another_organization_reads_as_one_that_does_not_exist(
    client: Client, world: World, other: World
) -> None:
    # given a draft application, a site of another organization and an id no site has
    app = world.draft_application(category="")
    line = ScopeLine.objects.get(application=world.draft_application(category="EPL"))
    client.force_login(world.org_user)
    missing = Site.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000

    def post(url: str, site: int) -> HttpResponse:
        return client.post(
            url,
            {
                "category": ProcessCategory.objects.get(code="EPL").pk,
                "site": site,
                "wording": "Plating",
                "standards": [Standard.objects.get(designation="ISO 9001", edition="2015").pk],
            },
        )

    for url in (
        org_url(world, f"applications/{app.pk}/scope-lines"),
        org_url(world, f"applications/{line.application_id}/scope-lines/{line.pk}/edit"),
    ):
        # when each is forced into the scope line form
        theirs, nobodys = post(url, other.site.pk), post(url, missing)
        # then both get the same error, word for word, which names nothing
        assert theirs.status_code == nobodys.status_code == 400
        assert "Choose a site of your organization." in field_error(theirs, "site")
        assert field_error(nobodys, "site") == field_error(theirs, "site")
        page = text(theirs)
        assert other.org.legal_name not in page
        assert page == text(nobodys)
    assert not ScopeLine.objects.filter(application=app).exists()
    line.refresh_from_db()
    assert line.site_id == world.site.pk


def test_application_refusals_show_next_to_their_field(client: Client, world: World) -> None:
    only_ap = World.make_cb(world.secretariat, "OAP", DAY0, programmes=("AP",))
    client.force_login(world.org_user)
    url = org_url(world, "applications/new")
    before = (Application.objects.count(), audit_count())

    component = client.post(url, _apply_form(world, requests_component_qualification="on"))
    assert component.status_code == 400
    assert "IECQ Approved Component scheme" in field_error(
        component, "requests_component_qualification"
    )

    cap = Programme.objects.get(code="AP-CAP")
    not_for_cap = client.post(url, _apply_form(world, cb=only_ap.cb.pk, programmes=[cap.pk]))
    assert not_for_cap.status_code == 400
    assert "does not hold a current IECQ acceptance for AP-CAP" in field_error(not_for_cap, "cb")

    no_programme = client.post(url, _apply_form(world, programmes=[]))
    assert no_programme.status_code == 400
    assert field_error(no_programme, "programmes")
    assert (Application.objects.count(), audit_count()) == before


def test_a_scheme_not_run_here_or_a_programme_of_another_scheme_is_refused_next_to_the_field(
    client: Client, world: World
) -> None:
    # given: the form offers neither the HSPM scheme nor its programme; a forced POST names them
    hspm_scheme = Scheme.objects.get(code="HSPM")
    hspm = Programme.objects.get(code="HSPM")
    client.force_login(world.org_user)
    url = org_url(world, "applications/new")
    before = (Application.objects.count(), audit_count())

    # when the application is started under HSPM
    other_scheme = client.post(url, _apply_form(world, scheme=hspm_scheme.pk, programmes=[hspm.pk]))
    # then the scheme is refused next to its field
    assert other_scheme.status_code == 400
    assert f"apcert does not run applications under {hspm_scheme} yet." in field_error(
        other_scheme, "scheme"
    )

    # when an AP application also names the HSPM programme
    mixed = client.post(url, _apply_form(world, programmes=[world.programme.pk, hspm.pk]))
    # then the programme is refused next to its field
    assert mixed.status_code == 400
    assert f"HSPM belongs to another scheme than {world.scheme}." in field_error(
        mixed, "programmes"
    )
    # and no draft was started
    assert (Application.objects.count(), audit_count()) == before


def test_a_refused_submission_says_why_and_changes_nothing(client: Client, world: World) -> None:
    app = world.draft_application(category="")
    client.force_login(world.org_user)
    before = audit_count()
    response = client.post(org_url(world, f"applications/{app.pk}/submit"))
    assert response.status_code == 409
    assert "Declare at least one scope line." in text(response)
    app.refresh_from_db()
    assert app.status == "draft"
    assert audit_count() == before


def test_the_cb_answer_is_shown(client: Client, world: World) -> None:
    app = world.draft_application()
    application_submit(actor=world.org_user, application=app, on=DAY0)
    application_reject(actor=world.team.manager, application=app, reason="Outside our scope")
    client.force_login(world.org_user)
    page = text(client.get(org_url(world, f"applications/{app.pk}/")))
    assert f"{world.team.cb.code}: rejected : Outside our scope" in page
    assert "EPL" in page and "ISO 9001:2015" in page


def test_the_secretariat_sees_applications_but_is_not_offered_to_act(
    client: Client, world: World
) -> None:
    app = world.draft_application()
    client.force_login(world.secretariat)
    page = client.get(org_url(world, f"applications/{app.pk}/"))
    assert page.status_code == 200
    assert "Add a scope line" not in text(page) and "Submit to" not in text(page)
    assert "Apply for certification" not in text(client.get(org_url(world, "applications/")))
    before = audit_count()
    assert client.get(org_url(world, "applications/new")).status_code == 403
    assert client.post(org_url(world, "applications/new"), _apply_form(world)).status_code == 403
    assert client.post(org_url(world, f"applications/{app.pk}/submit")).status_code == 403
    response = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"),
        {
            "category": ProcessCategory.objects.get(code="EPL").pk,
            "site": world.site2.pk,
            "wording": "Forced",
            "standards": [Standard.objects.get(designation="ISO 9001", edition="2015").pk],
        },
    )
    assert response.status_code == 403
    assert audit_count() == before
    assert Application.objects.get(pk=app.pk).status == "draft"


def test_another_tenants_application_is_a_404(client: Client, world: World, other: World) -> None:
    mine = world.draft_application()
    theirs = other.draft_application()
    before = audit_count()
    client.force_login(world.org_user)
    # their application under my organization's address, and their organization's address
    assert client.get(org_url(world, f"applications/{theirs.pk}/")).status_code == 404
    assert client.get(org_url(other, f"applications/{theirs.pk}/")).status_code == 404
    assert client.post(org_url(world, f"applications/{theirs.pk}/submit")).status_code == 404
    # CB staff, even of the CB applied to, do not use the organization section
    client.force_login(world.team.manager)
    assert client.get(org_url(world, f"applications/{mine.pk}/")).status_code == 404
    client.force_login(other.org_user)
    assert client.post(org_url(world, f"applications/{mine.pk}/submit")).status_code == 404
    assert audit_count() == before


def test_the_applications_list_filters_and_runs_bounded_queries(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    drafts = [world.draft_application() for _ in range(3)]
    submitted = world.draft_application(category="EPL")
    application_submit(actor=world.org_user, application=submitted, on=DAY0)
    client.force_login(world.org_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(org_url(world, "applications/"), {"status": "submitted"})
    page = text(response)
    assert "1 found" in page and f"Application {submitted.pk}" in page
    assert f"Application {drafts[0].pk} " not in page
    with django_assert_max_num_queries(MAX_QUERIES):
        everything = client.get(org_url(world, "applications/"), {"sort": "cb"})
    assert "4 found" in text(everything)


# --- 3. findings, answers and evidence ----------------------------------------------------------


@pytest.fixture
def assessed(world: World) -> Assessment:
    """An initial assessment with a major, a minor and an observation."""
    app = world.accepted_application()
    return world.assessment(app, findings=("major", "minor", "observation"))


def _major(assessment: Assessment) -> Finding:
    return assessment.findings.get(grade="major")


def test_the_findings_list_filters_and_runs_bounded_queries(
    client: Client, world: World, assessed: Assessment, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.org_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(org_url(world, "findings/"))
    page = text(response)
    assert "3 found" in page
    assert "major nonconformity" in page and "observation" in page
    majors = text(client.get(org_url(world, "findings/"), {"grade": "major", "sort": "-due"}))
    major = _major(assessed)
    assert "1 found" in majors and f"Finding {major.number}" in majors
    assert (
        f"/findings/{major.pk}/"
        in client.get(org_url(world, "findings/"), {"grade": "major"}).content.decode()
    )


def test_an_organization_user_answers_a_finding_and_attaches_evidence(
    client: Client, world: World, member: User, assessed: Assessment, evidence_dir: Path
) -> None:
    finding = _major(assessed)
    url = org_url(world, f"findings/{finding.pk}/")
    client.force_login(member)
    page = client.get(url)
    html = page.content.decode()
    assert '<label for="id_root_cause">Root cause</label>' in html
    assert "Attach evidence" not in text(page)

    response = client.post(
        f"{url}answer",
        {"correction": "Records completed", "root_cause": "No checklist", "action": "Checklist"},
        follow=True,
    )
    assert response.redirect_chain == [(url, 302)]
    ca = CorrectiveAction.objects.get(finding=finding)
    assert (ca.root_cause, ca.submitted_by_id) == ("No checklist", member.pk)
    finding.refresh_from_db()
    assert finding.status == "answered"
    assert (last_audit().action, last_audit().object_id) == ("finding.answer", str(finding.pk))
    assert "Send the answer" not in text(response)  # answered: no second answer offered
    assert "Attach evidence to this answer" in text(response)

    upload = SimpleUploadedFile("Checklist.pdf", PDF, content_type="application/pdf")
    response = client.post(f"{url}evidence", {"file": upload}, follow=True)
    assert response.redirect_chain == [(url, 302)]
    evidence = EvidenceFile.objects.get(corrective_action=ca)
    assert (evidence.name, evidence.size) == ("Checklist.pdf", len(PDF))
    assert (last_audit().action, last_audit().actor_id) == ("evidence.attach", member.pk)
    download_url = f"/office/org/evidence/{evidence.pk}"
    assert f'href="{download_url}"' in response.content.decode()

    download = client.get(download_url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]


def test_an_upload_larger_than_any_accepted_is_refused_before_its_body_is_read(
    client: Client, world: World, assessed: Assessment, evidence_dir: Path, settings: Any
) -> None:
    # given an answered finding and a 2 MB limit on evidence files
    settings.EVIDENCE_MAX_BYTES = 2 * 1024 * 1024
    finding = _major(assessed)
    world.answer(finding)
    url = org_url(world, f"findings/{finding.pk}/evidence")
    client.force_login(world.org_user)
    before = (EvidenceFile.objects.count(), audit_count())
    # when a request declares a body of 50 MB (the test client's body is a few bytes: reading
    # it as far as declared would fail, so the answer proves nothing read it)
    response = client.generic(
        "POST",
        url,
        b"--x--",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    # then it is refused on its declared size, saying why, and nothing is written
    assert response.status_code == 413
    assert "larger than 3 MB, more than any file apcert accepts" in response.content.decode()
    assert (EvidenceFile.objects.count(), audit_count()) == before
    assert not evidence_dir.exists() or not any(evidence_dir.rglob("*"))


def test_answer_and_evidence_refusals_show_next_to_their_field(
    client: Client, world: World, assessed: Assessment, evidence_dir: Path
) -> None:
    finding = _major(assessed)
    url = org_url(world, f"findings/{finding.pk}/")
    client.force_login(world.org_user)
    before = (CorrectiveAction.objects.count(), audit_count())
    response = client.post(
        f"{url}answer", {"correction": "Done", "root_cause": " ", "action": "Checklist"}
    )
    assert response.status_code == 400
    assert "gives the correction, the root cause and the action" in field_error(
        response, "root_cause"
    )
    assert (CorrectiveAction.objects.count(), audit_count()) == before

    world.answer(finding)
    before = (EvidenceFile.objects.count(), audit_count())
    fake = SimpleUploadedFile("report.pdf", b"just text, not a PDF", content_type="application/pdf")
    response = client.post(f"{url}evidence", {"file": fake})
    assert response.status_code == 400
    assert "The file is named as PDF but" in field_error(response, "file")
    assert (EvidenceFile.objects.count(), audit_count()) == before


def test_a_zip_bomb_named_as_a_document_is_a_form_error(
    client: Client, world: World, assessed: Assessment, evidence_dir: Path, settings: Any
) -> None:
    from tests.test_evidence_files import _bomb

    settings.EVIDENCE_MAX_BYTES = 64 * 1024  # packages may expand to 1.25 MB
    finding = _major(assessed)
    world.answer(finding)
    client.force_login(world.org_user)
    before = (EvidenceFile.objects.count(), audit_count())
    bomb = SimpleUploadedFile("procedure.docx", _bomb(2 * 1024 * 1024))
    response = client.post(org_url(world, f"findings/{finding.pk}/evidence"), {"file": bomb})
    assert response.status_code == 400
    assert "The file is an archive that expands to more than 1.25 MB" in field_error(
        response, "file"
    )
    assert (EvidenceFile.objects.count(), audit_count()) == before


def test_a_forced_answer_to_a_closed_finding_is_refused(
    client: Client, world: World, assessed: Assessment
) -> None:
    observation = assessed.findings.get(grade="observation")
    client.force_login(world.org_user)
    url = org_url(world, f"findings/{observation.pk}/")
    assert "Send the answer" not in text(client.get(url))
    before = audit_count()
    response = client.post(f"{url}answer", {"correction": "a", "root_cause": "b", "action": "c"})
    assert response.status_code == 409
    assert 'role="alert"' in response.content.decode()
    assert not CorrectiveAction.objects.filter(finding=observation).exists()
    assert audit_count() == before


def test_findings_refused_roles(
    client: Client, world: World, other: World, assessed: Assessment, evidence_dir: Path
) -> None:
    finding = _major(assessed)
    ca = world.answer(finding)
    world.review(ca, "reject")  # open again: an answer would be offered to its users
    url = org_url(world, f"findings/{finding.pk}/")
    before = (CorrectiveAction.objects.count(), audit_count())
    answer = {"correction": "a", "root_cause": "b", "action": "c"}

    # the Secretariat sees the finding but is offered no answer, and is refused one
    client.force_login(world.secretariat)
    assert "Send the answer" not in text(client.get(url))
    assert client.post(f"{url}answer", answer).status_code == 403
    # another organization's user and the CB's staff: 404, as for a finding that does not exist
    for user in (other.org_user, world.team.lead, world.team.manager):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(f"{url}answer", answer).status_code == 404
    client.force_login(other.org_user)
    assert client.get(org_url(other, f"findings/{finding.pk}/")).status_code == 404
    assert (CorrectiveAction.objects.count(), audit_count()) == before


def test_evidence_downloads_are_404_to_other_tenants(
    client: Client, world: World, other: World, assessed: Assessment, evidence_dir: Path
) -> None:
    ca = world.answer(_major(assessed))
    client.force_login(world.org_user)
    client.post(
        org_url(world, f"findings/{ca.finding_id}/evidence"),
        {"file": SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")},
    )
    evidence = EvidenceFile.objects.get(corrective_action=ca)
    client.force_login(other.org_user)
    assert client.get(f"/office/org/evidence/{evidence.pk}").status_code == 404
    client.force_login(other.team.manager)
    assert client.get(f"/office/org/evidence/{evidence.pk}").status_code == 404


# --- 4. certificates ----------------------------------------------------------------------------


def test_certificates_list_and_page(
    client: Client, world: World, other: World, django_assert_max_num_queries: Any
) -> None:
    certificate = world.granted()
    theirs = other.granted()
    client.force_login(world.org_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(org_url(world, "certificates/"))
    page = text(response)
    assert "1 found" in page and certificate.number in page and theirs.number not in page
    html = response.content.decode()
    assert f'href="{org_url(world, f"certificates/{certificate.pk}/")}"' in html
    public = "/certificates/" + certificate.number.replace(" ", "%20")
    assert f'href="{public}"' in html
    assert "0 found" in text(client.get(org_url(world, "certificates/"), {"status": "withdrawn"}))

    detail = client.get(org_url(world, f"certificates/{certificate.pk}/"))
    assert detail.status_code == 200
    page = text(detail)
    assert f"{certificate.number} in the public register" in page
    assert "initial certification" in page
    assert "EPL at Main plant" in page
    assert client.get(public).status_code == 200

    assert client.get(org_url(world, f"certificates/{theirs.pk}/")).status_code == 404
    assert client.get(org_url(other, f"certificates/{theirs.pk}/")).status_code == 404
    client.force_login(world.team.manager)
    assert client.get(org_url(world, f"certificates/{certificate.pk}/")).status_code == 404
    assert Certificate.objects.get(pk=certificate.pk).status == certificate.status


def test_a_forced_scope_line_on_a_submitted_application_is_refused_with_the_reason(
    client: Client, world: World
) -> None:
    app = world.draft_application()
    application_submit(actor=world.org_user, application=app, on=DAY0)
    client.force_login(world.org_user)
    before = (ScopeLine.objects.count(), audit_count())
    response = client.post(
        org_url(world, f"applications/{app.pk}/scope-lines"),
        {
            "category": ProcessCategory.objects.get(code="EPL").pk,
            "site": world.site2.pk,
            "wording": "Forced",
            "standards": [Standard.objects.get(designation="ISO 9001", edition="2015").pk],
        },
    )
    assert response.status_code == 400
    assert "Only a draft application&#x27;s scope can be changed." in text(response)
    assert (ScopeLine.objects.count(), audit_count()) == before


def test_forced_evidence_is_refused_with_the_reason(
    client: Client, world: World, assessed: Assessment, evidence_dir: Path
) -> None:
    finding = _major(assessed)
    url = org_url(world, f"findings/{finding.pk}/evidence")
    client.force_login(world.org_user)
    before = (EvidenceFile.objects.count(), audit_count())

    # not answered yet: nothing to attach the file to
    response = client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)})
    assert response.status_code == 409
    assert "Answer the finding first" in text(response)

    # verified and closed: its evidence can no longer change
    world.review(world.answer(finding), "verify")
    before = (EvidenceFile.objects.count(), audit_count())
    response = client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)})
    assert response.status_code == 409
    assert "The finding is closed" in text(response)

    # the Secretariat may see it but may not attach
    client.force_login(world.secretariat)
    assert client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 403
    assert (EvidenceFile.objects.count(), audit_count()) == before


def test_evidence_for_a_finding_not_yet_answered_is_refused_with_its_code(
    client: Client, world: World, assessed: Assessment, evidence_dir: Path
) -> None:
    # given a major finding that no one has answered yet
    finding = _major(assessed)
    assert not CorrectiveAction.objects.filter(finding=finding).exists()
    client.force_login(world.org_user)
    before = (CorrectiveAction.objects.count(), EvidenceFile.objects.count(), audit_count())

    # when a file is forced onto it
    response = client.post(
        org_url(world, f"findings/{finding.pk}/evidence"),
        {"file": SimpleUploadedFile("a.pdf", PDF)},
    )

    # then it is refused: evidence belongs to an answer, and there is none to attach it to
    assert response.status_code == 409
    assert response.context["refusal"].code == EVIDENCE_NO_ANSWER
    assert "Answer the finding first: evidence is attached to an answer." in text(response)
    assert (CorrectiveAction.objects.count(), EvidenceFile.objects.count(), audit_count()) == before
    assert not evidence_dir.exists() or not any(evidence_dir.rglob("*"))


def test_an_organization_user_withdraws_an_application(
    client: Client, world: World, member: User
) -> None:
    app = world.draft_application()
    application_submit(actor=world.org_user, application=app, on=DAY0)
    url = org_url(world, f"applications/{app.pk}/")
    client.force_login(member)
    page = client.get(url)
    assert "Withdraw the application" in text(page)
    assert '<label for="id_reason">Why do you withdraw it? (optional)</label>' in (
        page.content.decode()
    )

    response = client.post(f"{url}withdraw", {"reason": "Plant sold"}, follow=True)

    assert response.redirect_chain == [(url, 302)]
    app.refresh_from_db()
    assert (app.status, app.status_reason) == ("withdrawn", "Plant sold")
    event = last_audit()
    assert (event.action, event.actor_id, event.reason) == (
        "application.withdraw",
        member.pk,
        "Plant sold",
    )
    assert f"Application {app.pk} is withdrawn." in text(response)
    assert "Withdraw the application" not in text(response)


def test_a_decided_application_is_not_offered_for_withdrawal_and_a_forced_one_is_refused(
    client: Client, world: World, other: World
) -> None:
    certificate = world.granted()
    url = org_url(world, f"applications/{certificate.application_id}/")
    client.force_login(world.org_user)
    assert "Withdraw the application" not in text(client.get(url))
    before = audit_count()
    response = client.post(f"{url}withdraw", {"reason": "forced"})
    assert response.status_code == 409
    assert "can no longer be withdrawn" in text(response)

    client.force_login(world.secretariat)
    draft = world.draft_application()
    draft_url = org_url(world, f"applications/{draft.pk}/")
    assert "Withdraw the application" not in text(client.get(draft_url))
    assert client.post(f"{draft_url}withdraw").status_code == 403
    client.force_login(other.org_user)
    assert client.post(f"{draft_url}withdraw").status_code == 404
    assert audit_count() == before + 2  # the draft's creation and scope line only
    assert Application.objects.get(pk=draft.pk).status == "draft"
    assert Application.objects.get(pk=certificate.application_id).status == "accepted"
