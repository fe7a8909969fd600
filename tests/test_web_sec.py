"""The Secretariat's back-office pages: certification bodies and their acceptance,
the reference data, and every certificate. Refused to anyone else, with nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apcert.accounts.models import User
from apcert.audit.models import AuditEvent
from apcert.bodies import selectors as bodies_selectors
from apcert.bodies.models import CBAcceptance, CertificationBody
from apcert.bodies.services import cb_create, cb_staff_add
from apcert.certificates.models import Certificate
from apcert.core.errors import PermissionDenied
from apcert.schemes.models import ProcessCategory, Programme
from apcert.web import lists
from apcert.web.sections.sec import views as views_sec
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

CBS = reverse("web:sec:cbs")
CB_NEW = reverse("web:sec:cb-new")
REFERENCE = reverse("web:sec:reference")
CERTIFICATES = reverse("web:sec:certificates")


def text(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def field_error(response: Any, field: str) -> str:
    """The error text shown next to one field (web/_field.html)."""
    found = re.search(
        rf'<div class="error-text" id="id_{field}_error">(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    assert found is not None, f"no error next to {field}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def audit_count(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


def others(world: World) -> list[User]:
    """Everyone who is not the Secretariat: CB staff of every role, an organization user, a
    person with no role, and a CB administrator."""
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    t = world.team
    return [t.manager, t.lead, t.decision_maker, world.org_user, make_user("nobody"), admin]


# --- the navigation ----------------------------------------------------------------------------


def test_the_secretariat_entry_is_shown_to_the_secretariat_only(
    client: Client, world: World
) -> None:
    client.force_login(world.secretariat)
    assert f'href="{CBS}"' in client.get("/office/").content.decode()
    client.force_login(world.team.manager)
    assert f'href="{CBS}"' not in client.get("/office/").content.decode()


# --- certification bodies ----------------------------------------------------------------------


def test_the_secretariat_adds_a_cb_end_to_end(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    # Given the form, labelled
    form = client.get(CB_NEW)
    assert form.status_code == 200
    assert '<label for="id_code">Code</label>' in form.content.decode()
    events = audit_count("cb.create")

    # When it is posted
    response = client.post(
        CB_NEW,
        {"code": "nqa9", "name": "New Quality Assessors", "country": "gb", "website": ""},
        follow=True,
    )

    # Then the CB exists with an upper-case code, one audit event, and its page says so
    cb = CertificationBody.objects.get(code="NQA9")
    assert (cb.name, cb.country) == ("New Quality Assessors", "GB")
    assert audit_count("cb.create") == events + 1
    assert response.redirect_chain == [(reverse("web:sec:cb", args=[cb.pk]), 302)]
    assert "NQA9 New Quality Assessors is added." in text(response)
    assert "NQA9 is not accepted for any programme yet" in text(response)


def test_cb_form_errors_show_next_to_their_field(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    before = CertificationBody.objects.count()
    taken = world.team.cb.code
    response = client.post(CB_NEW, {"code": taken, "name": "Copy", "country": "DE"})
    assert response.status_code == 400
    assert field_error(response, "code") == f"The CB code {taken} is already given to another CB."

    response = client.post(CB_NEW, {"code": "X-1", "name": "Bad", "country": "Germany"})
    assert response.status_code == 400
    assert "2 to 8 letters or digits" in field_error(response, "code")

    response = client.post(CB_NEW, {"code": "GOOD1", "name": "Good", "country": "D1"})
    assert "is not a country code" in field_error(response, "country")
    assert CertificationBody.objects.count() == before


def test_the_secretariat_grants_then_suspends_and_withdraws_an_acceptance(
    client: Client, world: World
) -> None:
    client.force_login(world.secretariat)
    cb = cb_create(actor=world.secretariat, code="ACC1", name="Accepting", country="FR")
    page = client.get(reverse("web:sec:cb", args=[cb.pk]))
    assert page.status_code == 200
    assert '<label for="id_programme">Programme</label>' in page.content.decode()
    programme = Programme.objects.get(code="AP-ESD")
    category = ProcessCategory.objects.get(code="EPL")

    # When the acceptance is granted for a programme with dates and one category
    grants = audit_count("cb.acceptance_grant")
    response = client.post(
        reverse("web:sec:acceptance-new", args=[cb.pk]),
        {
            "programme": programme.pk,
            "accepted_on": "2026-01-01",
            "valid_until": "2028-12-31",
            "categories": [category.pk],
        },
        follow=True,
    )
    acceptance = CBAcceptance.objects.get(cb=cb, programme=programme)
    assert acceptance.status == "active"
    assert str(acceptance.valid_until) == "2028-12-31"
    assert list(acceptance.categories.values_list("code", flat=True)) == ["EPL"]
    assert audit_count("cb.acceptance_grant") == grants + 1
    assert (
        AuditEvent.objects.filter(
            action="cb.acceptance_grant", object_id=str(acceptance.pk)
        ).count()
        == 1
    )
    assert "ACC1 is accepted for AP-ESD." in text(response)

    # And then suspended, with a reason
    status_url = reverse("web:sec:acceptance-status", args=[acceptance.pk])
    form = client.get(status_url)
    assert form.status_code == 200
    # it is active: the lifecycle offers suspend and withdraw, not restore
    assert '<option value="suspend"' in form.content.decode()
    assert '<option value="withdraw"' in form.content.decode()
    assert '<option value="restore"' not in form.content.decode()
    response = client.post(
        status_url, {"action": "suspend", "reason": "Audit by the board"}, follow=True
    )
    acceptance.refresh_from_db()
    assert acceptance.status == "suspended"
    event = AuditEvent.objects.get(action="cb.acceptance_status", object_id=str(acceptance.pk))
    assert (event.before, event.after, event.reason) == (
        {"status": "active"},
        {"status": "suspended"},
        "Audit by the board",
    )
    assert "is now suspended" in text(response)

    # And withdrawn
    client.post(status_url, {"action": "withdraw", "reason": "Left IECQ"})
    acceptance.refresh_from_db()
    assert acceptance.status == "withdrawn"
    assert audit_count("cb.acceptance_status") == 2


def test_acceptance_errors_show_next_to_their_field(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    cb = world.team.cb
    url = reverse("web:sec:acceptance-new", args=[cb.pk])
    other = cb_create(actor=world.secretariat, code="DATE1", name="Dates", country="FR")
    before = (CBAcceptance.objects.count(), AuditEvent.objects.count())

    # Already accepted for AP
    response = client.post(url, {"programme": world.programme.pk, "accepted_on": "2026-01-01"})
    assert response.status_code == 400
    assert "already has an acceptance for AP" in field_error(response, "programme")

    # Ends before it starts
    response = client.post(
        reverse("web:sec:acceptance-new", args=[other.pk]),
        {"programme": world.programme.pk, "accepted_on": "2026-01-01", "valid_until": "2025-01-01"},
    )
    assert response.status_code == 400
    assert field_error(response, "valid_until") == "An acceptance cannot end before it starts."

    # No date at all
    response = client.post(url, {"programme": world.programme.pk})
    assert field_error(response, "accepted_on") == "This field is required."

    # A status change without a reason, or an action its lifecycle does not allow now
    acceptance = CBAcceptance.objects.filter(cb=cb).first()
    assert acceptance is not None
    status_url = reverse("web:sec:acceptance-status", args=[acceptance.pk])
    response = client.post(status_url, {"action": "suspend", "reason": ""})
    assert response.status_code == 400
    assert field_error(response, "reason") == "This field is required."
    response = client.post(status_url, {"action": "restore", "reason": "again"})
    assert response.status_code == 400
    assert field_error(response, "action").startswith("Select a valid choice.")
    assert (CBAcceptance.objects.count(), AuditEvent.objects.count()) == before
    acceptance.refresh_from_db()
    assert acceptance.status == "active"


def test_everyone_else_is_refused_every_secretariat_page_and_nothing_changes(
    client: Client, world: World
) -> None:
    cb = world.team.cb
    acceptance = CBAcceptance.objects.filter(cb=cb).first()
    assert acceptance is not None
    gets = [
        CBS,
        CB_NEW,
        reverse("web:sec:cb", args=[cb.pk]),
        reverse("web:sec:acceptance-status", args=[acceptance.pk]),
        REFERENCE,
        CERTIFICATES,
    ]
    posts = [
        (CB_NEW, {"code": "EVIL", "name": "Evil", "country": "DE"}),
        (
            reverse("web:sec:acceptance-new", args=[cb.pk]),
            {"programme": world.programme.pk, "accepted_on": "2026-01-01"},
        ),
        (
            reverse("web:sec:acceptance-status", args=[acceptance.pk]),
            {"action": "withdraw", "reason": "forced"},
        ),
    ]
    refused = others(world)
    before = (
        CertificationBody.objects.count(),
        CBAcceptance.objects.count(),
        AuditEvent.objects.count(),
    )
    for user in refused:
        client.force_login(user)
        for url in gets:
            response = client.get(url)
            assert response.status_code == 403, (user, url)
            assert "Only the IECQ Secretariat may do this." in text(response)
        for url, data in posts:
            response = client.post(url, data)
            assert response.status_code == 403, (user, url)
    assert (
        CertificationBody.objects.count(),
        CBAcceptance.objects.count(),
        AuditEvent.objects.count(),
    ) == before
    acceptance.refresh_from_db()
    assert acceptance.status == "active"


def test_an_unknown_cb_or_acceptance_is_404(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    assert client.get(reverse("web:sec:cb", args=[999999])).status_code == 404
    assert client.get(reverse("web:sec:acceptance-status", args=[999999])).status_code == 404


def test_cb_list_filters_sorts_paginates_with_bounded_queries(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for i in range(30):
        cb_create(
            actor=world.secretariat,
            code=f"L{i:02d}",
            name=f"List body {i}",
            country="FR" if i % 2 else "IT",
        )
    client.force_login(world.secretariat)
    with django_assert_max_num_queries(12):
        page = client.get(CBS)
    assert page.status_code == 200
    assert "31 found; page 1 of 2." in text(page)
    assert '<label for="id_q">Code or name contains</label>' in page.content.decode()

    page = text(client.get(CBS, {"country": "IT", "sort": "-code"}))
    assert "15 found." in page
    assert page.index("L28") < page.index("L00")
    assert "L01" not in page

    page = text(client.get(CBS, {"q": "body 7"}))
    assert "1 found." in page and "L07" in page
    assert "2 found" not in page

    page = text(client.get(CBS, {"page": "2"}))
    assert "page 2 of 2" in page


# --- reference data ----------------------------------------------------------------------------


def test_reference_data_from_the_database_filterable(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.secretariat)
    with django_assert_max_num_queries(14):
        response = client.get(REFERENCE)
    assert response.status_code == 200
    page = text(response)
    # Schemes with their rules, programmes, the category tree and standards, as loaded
    assert "AP IECQ Approved Process Scheme IECQ 03-2 yes A 36 months" in page
    assert "AC IECQ Approved Component Scheme IECQ 03-3" in page
    assert "AP-CAP" in page and "AP-ESD" in page
    html = response.content.decode()
    design = ProcessCategory.objects.get(code="DES")
    child = ProcessCategory.objects.filter(parent=design).order_by("code").first()
    assert child is not None
    top = f'<li class="depth-0"><strong>DES</strong> {design.name}'
    below = f'<li class="depth-1"><strong>{child.code}</strong> {child.name}'
    assert top in html and below in html and html.index(top) < html.index(below)

    # The standards filter: ISO 9001 editions, the withdrawn 2008 edition shown as such
    page = text(client.get(REFERENCE, {"q": "ISO 9001"}))
    assert "ISO 9001 2015" in page
    page = text(client.get(REFERENCE, {"q": "ISO 9001", "status": "superseded"}))
    assert "ISO 9001 2008" in page and "ISO 9001 2015" not in page
    assert "superseded by ISO 9001:2015 on 15 September 2018" in page
    page = text(client.get(REFERENCE, {"q": "ISO 9001", "status": "current"}))
    assert "ISO 9001 2015" in page and "ISO 9001 2008" not in page


# --- every certificate -------------------------------------------------------------------------


@pytest.fixture
def certificates(world: World) -> tuple[World, World, Certificate, Certificate]:
    other = World.build()
    return world, other, world.granted(), other.granted()


def test_every_certificate_of_every_cb_filterable(
    client: Client, certificates: tuple[World, World, Certificate, Certificate]
) -> None:
    world, other, mine, theirs = certificates
    client.force_login(world.secretariat)
    page = text(client.get(CERTIFICATES))
    assert mine.number in page and theirs.number in page
    assert "2 found." in page

    page = text(client.get(CERTIFICATES, {"cb": other.team.cb.code}))
    assert theirs.number in page and mine.number not in page

    page = text(client.get(CERTIFICATES, {"status": "suspended"}))
    assert "0 found." in page and "No certificate matches." in page

    page = text(client.get(CERTIFICATES, {"country": "de"}))
    assert "2 found." in page
    page = text(client.get(CERTIFICATES, {"country": "FR"}))
    assert "0 found." in page

    html = client.get(CERTIFICATES, {"sort": "-number"}).content.decode()
    first, second = sorted([mine.number, theirs.number], reverse=True)
    assert html.index(first) < html.index(second)

    # An unknown filter value or sort is ignored rather than an error
    assert (
        client.get(CERTIFICATES, {"status": "bogus", "sort": "nope", "page": "x"}).status_code
        == 200
    )


def test_certificate_list_pages_and_caps_its_count(
    client: Client,
    certificates: tuple[World, World, Certificate, Certificate],
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
) -> None:
    world = certificates[0]
    world.granted()
    client.force_login(world.secretariat)
    # Given a page of 1 and a cap of 2, with 3 certificates
    monkeypatch.setattr(views_sec, "CERT_PER_PAGE", 1)
    monkeypatch.setattr(lists, "COUNT_CAP", 2)
    with django_assert_max_num_queries(12):
        response = client.get(CERTIFICATES)
    page = text(response)
    assert "More than 2 found: narrow the filters to see the rest" in page
    assert "Next page" in page and "Previous page" not in page
    assert "page 1 of at least 2" in page
    # The cap bounds the pages too: page 2 is the last that is read, even asked for page 3
    for asked in ("2", "3"):
        page2 = text(client.get(CERTIFICATES, {"page": asked}))
        assert "Previous page" in page2 and "Next page" not in page2
        assert "Certificates, 2 to 2" in page2


def test_certificate_list_queries_do_not_grow_with_rows(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for _ in range(4):
        world.granted()
    client.force_login(world.secretariat)
    with django_assert_max_num_queries(12):
        assert client.get(CERTIFICATES).status_code == 200


def test_the_selectors_refuse_anyone_but_the_secretariat(world: World) -> None:
    for selector in (
        bodies_selectors.cbs_for_secretariat,
        bodies_selectors.cb_acceptances_for_secretariat,
        bodies_selectors.cb_with_acceptances_for_secretariat,
        bodies_selectors.cb_codes_for_secretariat,
        bodies_selectors.cb_countries_for_secretariat,
    ):
        for user in (world.team.manager, world.org_user, None):
            with pytest.raises(PermissionDenied) as refused:
                selector(user)
            assert refused.value.code in {
                "permission.secretariat_required",
                "permission.not_signed_in",
            }
        assert selector(world.secretariat) is not None
