"""The Secretariat's admin: everything can be browsed, nothing regulated can be changed there."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apcert.accounts.models import User
from apcert.applications.models import Application, ScopeLine
from apcert.assessments.evidence import evidence_attach
from apcert.assessments.models import Assessment, CorrectiveAction
from apcert.audit.models import AuditEvent
from apcert.audit.services import audit_record
from apcert.bodies.models import CBAcceptance, CBStaff
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.services import assessment_decision_defer
from apcert.core.admin import ReadOnlyAdmin
from apcert.credentials.services import signing_key_generate
from apcert.organizations.models import OrganizationMember, Site
from apcert.schemes.services import scheme_publication_review_set
from tests.factories import World, make_user
from tests.flows_support import visit

pytestmark = pytest.mark.django_db

DOMAIN_APPS = (
    "schemes",
    "bodies",
    "organizations",
    "applications",
    "assessments",
    "certificates",
    "credentials",
    "statuslists",
)

# Every model whose admin is a ReadOnlyAdmin: the regulated data, browsed but never changed.
REGULATED: list[type[models.Model]] = sorted(
    (
        m
        for m, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ReadOnlyAdmin) and m._meta.app_label in (*DOMAIN_APPS, "audit")
    ),
    key=lambda m: m._meta.label,
)

# What each kind of user gets from each admin view of a regulated model.
VIEWS = (
    "changelist",
    "search",
    "view",
    "change POST",
    "add",
    "add POST",
    "delete",
    "delete POST",
)
EXPECTED = {
    "secretariat": (200, 200, 200, 403, 403, 403, 403, 403),
    "staff, not secretariat": (403, 403, 403, 403, 403, 403, 403, 403),
    "secretariat, not staff": (302, 302, 302, 302, 302, 302, 302, 302),
}


@pytest.fixture
def certificate(world: World, settings: Any, tmp_path: Path, key_dir: Path) -> Certificate:
    """A granted certificate, signed, and a surveillance finding answered with an evidence
    file; another certificate awaiting the Secretariat's review: every regulated model then
    has at least one row."""
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    cert = world.granted()
    surveillance = visit(world, cert, "surveillance", findings=("minor",))
    answer = world.answer(surveillance.findings.get())
    assessment_decision_defer(
        actor=world.team.decision_maker,
        assessment=surveillance,
        reason="Awaiting the corrective action",
        until=timezone.localdate() + dt.timedelta(days=30),
    )
    evidence_attach(
        actor=world.org_user,
        corrective_action=answer,
        upload=SimpleUploadedFile("checklist.pdf", b"%PDF-1.7\n%%EOF\n"),
    )
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)
    world.granted()
    return cert


@pytest.fixture
def secretariat_client(client: Client) -> Client:
    client.force_login(make_user("secadmin", is_secretariat=True, is_staff=True))
    return client


def _url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _some(model: type[models.Model]) -> models.Model:
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"no {model._meta.label} to show"
    return obj


def _all_rows() -> dict[str, list[dict[str, Any]]]:
    return {m._meta.label: list(m._default_manager.order_by("pk").values()) for m in REGULATED}


def _statuses(client: Client, model: type[models.Model]) -> tuple[int, ...]:
    obj = _some(model)
    # Every editable column set to nonsense: none of it may reach the database.
    tampered = {
        f.attname: "tampered"
        for f in model._meta.concrete_fields
        if not f.primary_key and f.editable
    }
    responses = (
        client.get(_url(model, "changelist")),
        client.get(_url(model, "changelist"), {"q": "a"}),
        client.get(_url(model, "change", obj.pk)),
        client.post(_url(model, "change", obj.pk), {**tampered, "_save": "Save"}),
        client.get(_url(model, "add")),
        client.post(_url(model, "add"), tampered),
        client.get(_url(model, "delete", obj.pk)),
        client.post(_url(model, "delete", obj.pk), {"post": "yes"}),
    )
    return tuple(r.status_code for r in responses)


def test_every_model_of_the_domain_apps_and_the_audit_trail_is_registered_read_only() -> None:
    expected = {m for label in DOMAIN_APPS for m in apps.get_app_config(label).get_models()}
    expected.add(AuditEvent)

    assert len(expected) == 34
    assert expected <= set(REGULATED)


def test_permission_matrix_and_nothing_changes(certificate: Certificate, client: Client) -> None:
    # Given the three kinds of user who could reach the admin, and one row of every model
    users = {
        "secretariat": make_user("secadmin", is_secretariat=True, is_staff=True),
        "staff, not secretariat": make_user("staffonly", is_staff=True),
        "secretariat, not staff": make_user("secnostaff", is_secretariat=True),
    }
    before = _all_rows()

    # When each of them tries every view of every regulated model
    seen = {}
    for kind, user in users.items():
        client.force_login(user)
        for model in REGULATED:
            seen[(kind, model._meta.label)] = dict(
                zip(VIEWS, _statuses(client, model), strict=True)
            )

    # Then only the Secretariat may look, nobody may change, and nothing changed
    assert seen == {
        (kind, model._meta.label): dict(zip(VIEWS, EXPECTED[kind], strict=True))
        for kind in users
        for model in REGULATED
    }
    assert _all_rows() == before


def test_a_post_cannot_withdraw_a_certificate(
    certificate: Certificate, secretariat_client: Client
) -> None:
    events = AuditEvent.objects.count()

    response = secretariat_client.post(
        _url(Certificate, "change", certificate.pk),
        {"status": "withdrawn", "status_since": "2026-06-01", "_save": "Save"},
    )

    certificate.refresh_from_db()
    assert response.status_code == 403
    assert certificate.status == "current"
    assert AuditEvent.objects.count() == events


def test_view_pages_offer_no_save_button(
    certificate: Certificate, secretariat_client: Client
) -> None:
    with_buttons = [
        model._meta.label
        for model in REGULATED
        if b'name="_save"' in secretariat_client.get(_url(model, "change", _some(model).pk)).content
    ]

    assert with_buttons == []


def test_secretariat_index_lists_every_regulated_model_and_plain_staff_none(
    certificate: Certificate, client: Client
) -> None:
    client.force_login(make_user("secadmin", is_secretariat=True, is_staff=True))
    secretariat_index = client.get(reverse("admin:index"))
    client.force_login(make_user("staffonly", is_staff=True))
    staff_index = client.get(reverse("admin:index"))

    listed = {
        (app["app_label"], m["object_name"])
        for app in secretariat_index.context["app_list"]
        for m in app["models"]
    }
    assert secretariat_index.status_code == 200
    assert {(m._meta.app_label, m._meta.object_name) for m in REGULATED} <= listed
    assert staff_index.status_code == 200
    assert staff_index.context["app_list"] == []


# --- inlines: a parent's page links to each of its children ------------------------------


def test_parent_pages_show_their_children_inline(
    world: World, certificate: Certificate, secretariat_client: Client
) -> None:
    assessment = Assessment.objects.get(application=certificate.application)
    finding = assessment.findings.get(grade="major")
    families: dict[models.Model, list[models.Model]] = {
        certificate: [
            *certificate.issues.all(),
            *certificate.status_changes.all(),
            *certificate.decisions.all(),
        ],
        assessment: [*assessment.team.all(), *assessment.findings.all()],
        finding: list(CorrectiveAction.objects.filter(finding=finding)),
        certificate.application: list(
            ScopeLine.objects.filter(application_id=certificate.application_id)
        ),
        world.team.cb: [
            *CBAcceptance.objects.filter(cb=world.team.cb),
            *CBStaff.objects.filter(cb=world.team.cb),
        ],
        world.org: [
            *Site.objects.filter(organization=world.org),
            *OrganizationMember.objects.filter(organization=world.org),
        ],
    }

    missing = {}
    for parent, children in families.items():
        page = secretariat_client.get(_url(type(parent), "change", parent.pk)).content.decode()
        missing[str(parent)] = [
            str(child) for child in children if _url(type(child), "change", child.pk) not in page
        ]

    assert [len(children) for children in families.values()] == [3, 5, 1, 1, 9, 3]
    assert missing == {str(parent): [] for parent in families}


def test_scope_line_inline_names_its_standards(
    certificate: Certificate, secretariat_client: Client
) -> None:
    page = secretariat_client.get(_url(Application, "change", certificate.application_id))

    assert "ISO 9001:2015" in page.content.decode()


def test_certificate_issue_page_shows_each_snapshot_as_indented_json(
    certificate: Certificate, secretariat_client: Client
) -> None:
    issue = CertificateIssue.objects.get(certificate=certificate)

    page = secretariat_client.get(_url(CertificateIssue, "change", issue.pk)).content.decode()

    snapshots = (issue.holder, issue.sites, issue.programmes, issue.scope_lines, issue.standards)
    for snapshot in snapshots:
        text = json.dumps(snapshot, indent=2, ensure_ascii=False, sort_keys=True)
        assert escape(text) in page
    assert page.count('<pre class="snapshot-json">') == len(snapshots)
    # laid out by a stylesheet of the page, not an inline style the page's policy would refuse
    assert 'href="/static/certificates/admin.css"' in page
    assert " style=" not in page
    assert issue.holder["name"] == certificate.organization.legal_name


# --- list pages run in a bounded number of queries ---------------------------------------


def _changelist_queries(client: Client, url: str, data: dict[str, str] | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data or {})
    assert response.status_code == 200
    return len(queries)


def test_list_pages_do_not_grow_with_the_rows(
    reference: None, secretariat_client: Client, django_assert_max_num_queries: Any
) -> None:
    # Given two certificates, each of its own CB and holder, and what every list page costs
    World.build().granted()
    World.build().granted()
    urls = {m._meta.label: _url(m, "changelist") for m in REGULATED}
    with_two = {label: _changelist_queries(secretariat_client, url) for label, url in urls.items()}

    # When there are twenty
    for _ in range(18):
        World.build().granted()
    assert Certificate.objects.count() == 20

    # Then no list page needs more queries than it did
    with django_assert_max_num_queries(with_two["certificates.Certificate"]):
        response = secretariat_client.get(urls["certificates.Certificate"])
    assert len(response.context["cl"].result_list) == 20
    with_twenty = {
        label: _changelist_queries(secretariat_client, url) for label, url in urls.items()
    }
    assert {label: n for label, n in with_twenty.items() if n > with_two[label]} == {}


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


@pytest.mark.parametrize("label", ["cycle", "notifications", "webhooks"])
def test_cycle_notification_and_webhook_records_are_browsable_and_read_only(
    client: Client, label: str
) -> None:
    client.force_login(make_user("secadmin", is_secretariat=True, is_staff=True))
    for model in apps.get_app_config(label).get_models():
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, ReadOnlyAdmin)
        assert client.get(_url(model, "changelist")).status_code == 200
        assert client.get(_url(model, "add")).status_code == 403
