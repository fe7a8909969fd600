"""The Secretariat's admin: everything can be browsed, nothing regulated can be changed there."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection, models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from apcert.accounts.models import User
from apcert.applications.models import Application, ScopeLine
from apcert.assessments.models import Assessment, CorrectiveAction, Finding, TeamMember
from apcert.audit.models import AuditEvent
from apcert.audit.services import audit_record
from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.core.admin import ReadOnlyAdmin
from apcert.organizations.models import Organization, OrganizationMember, Site
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

DOMAIN_APPS = (
    "schemes",
    "bodies",
    "organizations",
    "applications",
    "assessments",
    "certificates",
)

# Every model whose admin is a ReadOnlyAdmin: the regulated data, browsed but never changed.
REGULATED: list[type[models.Model]] = sorted(
    (m for m, model_admin in admin.site._registry.items() if isinstance(model_admin, ReadOnlyAdmin)),
    key=lambda m: m._meta.label,
)
REGULATED_IDS = [m._meta.label for m in REGULATED]


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _row(obj: models.Model) -> dict[str, Any]:
    return type(obj)._default_manager.filter(pk=obj.pk).values().get()


@pytest.fixture
def certificate(world: World) -> Certificate:
    """A granted certificate: every regulated model then has at least one row."""
    return world.granted()


@pytest.fixture
def secretariat_client(client: Client) -> Client:
    client.force_login(make_user("secadmin", is_secretariat=True, is_staff=True))
    return client


def _some(model: type[models.Model]) -> models.Model:
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"no {model._meta.label} to show"
    return obj


def test_every_model_of_the_domain_apps_and_the_audit_trail_is_registered_read_only() -> None:
    expected = {m for label in DOMAIN_APPS for m in apps.get_app_config(label).get_models()}
    expected.add(AuditEvent)

    assert expected <= set(REGULATED)
    assert len(expected) == 24


@pytest.mark.parametrize("model", REGULATED, ids=REGULATED_IDS)
def test_secretariat_opens_changelist_search_and_view_page(
    certificate: Certificate, secretariat_client: Client, model: type[models.Model]
) -> None:
    obj = _some(model)

    changelist = secretariat_client.get(_url(model, "changelist"))
    search = secretariat_client.get(_url(model, "changelist"), {"q": "a"})
    page = secretariat_client.get(_url(model, "change", obj.pk))

    assert changelist.status_code == 200
    assert search.status_code == 200
    assert page.status_code == 200
    # A view page, not a form: no save buttons.
    assert b'name="_save"' not in page.content
    assert b'name="_continue"' not in page.content


@pytest.mark.parametrize("model", REGULATED, ids=REGULATED_IDS)
def test_add_and_delete_are_forbidden(
    certificate: Certificate, secretariat_client: Client, model: type[models.Model]
) -> None:
    obj = _some(model)
    count = model._default_manager.count()

    add_get = secretariat_client.get(_url(model, "add"))
    add_post = secretariat_client.post(_url(model, "add"), {})
    delete_get = secretariat_client.get(_url(model, "delete", obj.pk))
    delete_post = secretariat_client.post(_url(model, "delete", obj.pk), {"post": "yes"})

    assert (add_get.status_code, add_post.status_code) == (403, 403)
    assert (delete_get.status_code, delete_post.status_code) == (403, 403)
    assert model._default_manager.count() == count


@pytest.mark.parametrize("model", REGULATED, ids=REGULATED_IDS)
def test_post_to_a_change_page_changes_nothing(
    certificate: Certificate, secretariat_client: Client, model: type[models.Model]
) -> None:
    obj = _some(model)
    before = _row(obj)
    tampered = {
        f.attname: "tampered"
        for f in model._meta.concrete_fields
        if not f.primary_key and f.editable
    }

    response = secretariat_client.post(_url(model, "change", obj.pk), tampered)

    assert response.status_code == 403
    assert _row(obj) == before


def test_post_cannot_withdraw_a_certificate(
    certificate: Certificate, secretariat_client: Client
) -> None:
    response = secretariat_client.post(
        _url(Certificate, "change", certificate.pk),
        {"status": "withdrawn", "status_since": "2026-06-01", "_save": "Save"},
    )

    certificate.refresh_from_db()
    assert response.status_code == 403
    assert certificate.status == "current"
    assert not AuditEvent.objects.filter(action__startswith="certificate.withdraw").exists()


@pytest.mark.parametrize("model", REGULATED, ids=REGULATED_IDS)
def test_staff_without_secretariat_role_is_refused(
    certificate: Certificate, client: Client, model: type[models.Model]
) -> None:
    client.force_login(make_user("staffonly", is_staff=True))

    changelist = client.get(_url(model, "changelist"))
    page = client.get(_url(model, "change", _some(model).pk))

    assert changelist.status_code == 403
    assert page.status_code == 403


def test_staff_without_secretariat_role_sees_no_regulated_app_on_the_index(
    certificate: Certificate, client: Client
) -> None:
    client.force_login(make_user("staffonly", is_staff=True))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["app_list"] == []


def test_secretariat_without_staff_flag_is_sent_to_the_login_page(
    certificate: Certificate, client: Client
) -> None:
    client.force_login(make_user("secnostaff", is_secretariat=True))

    response = client.get(_url(Certificate, "changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_secretariat_index_lists_every_regulated_model(
    certificate: Certificate, secretariat_client: Client
) -> None:
    response = secretariat_client.get(reverse("admin:index"))

    listed = {
        (app["app_label"], m["object_name"])
        for app in response.context["app_list"]
        for m in app["models"]
    }
    assert response.status_code == 200
    assert {(m._meta.app_label, m._meta.object_name) for m in REGULATED} <= listed


# --- inlines: a parent's page links to its children ------------------------------------


def _links(parent: models.Model, children: list[models.Model], client: Client) -> list[bool]:
    content = client.get(_url(type(parent), "change", parent.pk)).content.decode()
    return [_url(type(child), "change", child.pk) in content for child in children]


def test_certificate_page_shows_its_issues_status_changes_and_decisions(
    certificate: Certificate, secretariat_client: Client
) -> None:
    children = [
        *certificate.issues.all(),
        *certificate.status_changes.all(),
        *certificate.decisions.all(),
    ]

    assert len(children) == 3
    assert _links(certificate, children, secretariat_client) == [True, True, True]


def test_assessment_page_shows_its_team_and_findings(
    certificate: Certificate, secretariat_client: Client
) -> None:
    assessment = Assessment.objects.get(application=certificate.application)
    children = [*TeamMember.objects.filter(assessment=assessment), *assessment.findings.all()]

    assert len(children) == 5
    assert _links(assessment, children, secretariat_client) == [True] * 5


def test_finding_page_shows_its_corrective_actions(
    certificate: Certificate, secretariat_client: Client
) -> None:
    finding = Finding.objects.get(grade="major")
    actions = list(CorrectiveAction.objects.filter(finding=finding))

    assert len(actions) == 1
    assert _links(finding, actions, secretariat_client) == [True]


def test_application_page_shows_its_scope_lines_with_standards(
    certificate: Certificate, secretariat_client: Client
) -> None:
    application = Application.objects.get(pk=certificate.application_id)
    lines = list(ScopeLine.objects.filter(application=application))
    page = secretariat_client.get(_url(Application, "change", application.pk))

    assert len(lines) == 1
    assert _links(application, lines, secretariat_client) == [True]
    assert "ISO 9001:2015" in page.content.decode()


def test_cb_page_shows_its_acceptances_and_staff(
    world: World, secretariat_client: Client
) -> None:
    cb = world.team.cb
    children = [*CBAcceptance.objects.filter(cb=cb), *CBStaff.objects.filter(cb=cb)]

    assert len(children) == 3 + 6
    assert _links(cb, children, secretariat_client) == [True] * 9


def test_organization_page_shows_its_sites_and_members(
    world: World, secretariat_client: Client
) -> None:
    org = world.org
    children = [
        *Site.objects.filter(organization=org),
        *OrganizationMember.objects.filter(organization=org),
    ]

    assert len(children) == 3
    assert _links(org, children, secretariat_client) == [True, True, True]


def test_certificate_issue_page_shows_each_snapshot_as_indented_json(
    certificate: Certificate, secretariat_client: Client
) -> None:
    issue = CertificateIssue.objects.get(certificate=certificate)

    content = secretariat_client.get(_url(CertificateIssue, "change", issue.pk)).content.decode()

    for snapshot in (issue.holder, issue.sites, issue.programmes, issue.scope_lines):
        text = json.dumps(snapshot, indent=2, ensure_ascii=False, sort_keys=True)
        assert escape(text) in content
    assert issue.holder["name"] == certificate.organization.legal_name
    assert escape(certificate.organization.legal_name) in content


# --- list pages run in a bounded number of queries ---------------------------------------


def _changelist_queries(client: Client, url: str, data: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data)
    assert response.status_code == 200
    return len(queries)


def test_certificate_list_queries_do_not_grow_with_the_rows(
    world: World, secretariat_client: Client, django_assert_max_num_queries: Any
) -> None:
    # Given two certificates, each of its own CB and holder
    url = _url(Certificate, "changelist")
    world.granted()
    World.build().granted()
    with_two = _changelist_queries(secretariat_client, url, {})

    # When there are twenty
    for _ in range(18):
        World.build().granted()
    assert Certificate.objects.count() == 20

    # Then the page needs no more queries
    with django_assert_max_num_queries(with_two):
        response = secretariat_client.get(url)
    assert len(response.context["cl"].result_list) == 20


@pytest.mark.parametrize(
    "model",
    [
        CertificateIssue,
        CertificateStatusChange,
        CertificationBody,
        CBStaff,
        Organization,
        Site,
        Application,
        ScopeLine,
        Assessment,
        Finding,
        CorrectiveAction,
    ],
    ids=lambda m: m._meta.label,
)
def test_other_list_pages_do_not_grow_with_the_rows(
    reference: None,
    secretariat_client: Client,
    django_assert_max_num_queries: Any,
    model: type[models.Model],
) -> None:
    url = _url(model, "changelist")
    World.build().granted()
    with_one_world = _changelist_queries(secretariat_client, url, {})

    for _ in range(4):
        World.build().granted()
    rows = model._default_manager.count()

    with django_assert_max_num_queries(with_one_world):
        response = secretariat_client.get(url)
    assert len(response.context["cl"].result_list) == rows


def _record_events(actor: User, n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_record(
                actor=actor,
                action="test.admin_listing",
                object_type="test",
                object_id=i,
                after={"i": i},
            )


def test_audit_event_list_queries_do_not_grow_with_the_rows(
    world: World, secretariat_client: Client, django_assert_max_num_queries: Any
) -> None:
    url = _url(AuditEvent, "changelist")
    only_these = {"action__exact": "test.admin_listing"}
    _record_events(world.secretariat, 2)
    with_two = _changelist_queries(secretariat_client, url, only_these)

    _record_events(world.secretariat, 18)

    with django_assert_max_num_queries(with_two):
        response = secretariat_client.get(url, only_these)
    assert len(response.context["cl"].result_list) == 20
