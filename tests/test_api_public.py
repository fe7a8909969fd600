"""The public register API: one certificate by number, its history and
the as-of answer; only public fields; the OpenAPI document served and committed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.test import Client

from apcert.applications.services import application_accept, application_submit, scope_line_add
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    NewScopeLine,
    certificate_grant,
    certificate_restore,
    certificate_site_add,
    certificate_suspend,
)
from apcert.schemes.models import ProcessCategory
from tests.factories import DAY0, World
from tests.flows_support import reported, visit

pytestmark = pytest.mark.django_db

GRANTED_ON = dt.date(2026, 3, 24)  # World.granted(): assessment ends DAY0 + 31, +40 days
SUSPENDED_ON = dt.date(2026, 6, 1)
RESTORED_ON = dt.date(2026, 7, 1)
SECRET = "secret complaint text"
OPENAPI_FILE = Path(__file__).resolve().parent.parent / "docs" / "openapi-public.json"


def url(number: str, tail: str = "") -> str:
    return f"/api/public/certificates/{quote(number)}{tail}"


def all_three(client: Client, number: str) -> list[Any]:
    """The bodies of the certificate, history and as-of answers, checked for 200."""
    bodies = []
    for tail in ("", "/history", f"/as-of?date={SUSPENDED_ON.isoformat()}&category=EPL"):
        response = client.get(url(number, tail))
        assert response.status_code == 200, (tail, response.content)
        bodies.append(response.json())
    return bodies


def suspended_then_restored(world: World) -> Certificate:
    cert = world.granted()
    dm = world.team.decision_maker
    cert = certificate_suspend(
        actor=dm, certificate=cert, reason_category="complaint", reason=SECRET,
        decided_on=SUSPENDED_ON,
    )  # fmt: skip
    return certificate_restore(
        actor=dm, certificate=cert, reason="Complaint closed",
        decided_on=RESTORED_ON,
    )  # fmt: skip


def granted_with_unpublished_site(world: World) -> Certificate:
    """A certificate whose scope has a line at ``world.site2``, which is not published."""
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
    assessment = world.assessment(app)
    return certificate_grant(
        actor=world.team.decision_maker, application=app, assessment=assessment,
        decided_on=GRANTED_ON,
    )  # fmt: skip


# --- a certificate by number ----------------------------------------------------------------


def test_certificate_by_number_answers_exactly_the_public_fields(
    world: World, client: Client
) -> None:
    # given a granted certificate
    cert = world.granted()
    # when anyone asks for it by number, URL-encoded (spaces and a dot)
    response = client.get(url(cert.number))
    # then the answer is exactly its public record, and no cookie is set
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert not response.cookies
    code = world.team.cb.code
    assert response.json() == {
        "number": f"IECQ-A {code} 26.0001",
        "status": "current",
        "status_since": "2026-03-24",
        "status_reason_category": "granted",
        "status_recorded": True,
        "first_issued_on": "2026-03-24",
        "expires_on": "2029-03-23",
        "issue_number": 1,
        "issued_on": "2026-03-24",
        "valid_from": "2026-03-24",
        "valid_until": "2029-03-23",
        "cb": {"code": code, "name": f"Cert Body {code}", "country": "DE"},
        "scheme": {"code": "AP", "name": "IECQ Approved Process Scheme"},
        "programmes": [{"code": "AP", "name": "IECQ Approved Process (general)"}],
        "holder": {"name": world.org.legal_name, "country": "DE"},
        "sites": [
            {
                "id": world.site.pk,
                "name": "Main plant",
                "address": "",
                "city": "Dresden",
                "country": "DE",
            }
        ],
        "scope_lines": [
            {
                "category": "EPL",
                "category_name": "Electroplating",
                "wording": "EPL process at the main plant",
                "standards": ["ISO 9001:2015"],
                "site_id": world.site.pk,
            }
        ],
        "standards": [
            {
                "designation": "ISO 9001",
                "edition": "2015",
                "title": "Quality management systems - Requirements",
            }
        ],
        "transferred_from": None,
        "transferred_to": None,
    }


def test_missing_number_is_a_404_problem(reference: None, client: Client) -> None:
    response = client.get(url("IECQ-A ZZ 26.9999"))
    assert response.status_code == 404
    assert response.json() == {
        "code": "certificate.not_found",
        "message": "There is no certificate 'IECQ-A ZZ 26.9999' in the public register.",
    }
    for tail in ("/history", "/as-of?date=2026-01-01"):
        response = client.get(url("IECQ-A ZZ 26.9999", tail))
        assert response.status_code == 404
        assert response.json()["code"] == "certificate.not_found"


def test_a_draft_certificate_is_not_public(world: World, client: Client) -> None:
    # given a certificate still in draft (made directly: no service leaves one behind)
    granted = world.granted()
    app = world.accepted_application()
    draft = Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0999",
        number_year=26,
        number_serial=999,
        cb=world.team.cb,
        scheme=world.scheme,
        organization=world.org,
        application=app,
        status="draft",
        status_since=GRANTED_ON,
        first_issued_on=GRANTED_ON,
        initial_decision_on=GRANTED_ON,
        expires_on=GRANTED_ON + dt.timedelta(days=1000),
    )
    # then every endpoint answers as if it did not exist
    for tail in ("", "/history", "/as-of?date=2026-05-01"):
        response = client.get(url(draft.number, tail))
        assert response.status_code == 404, tail
        assert response.json()["code"] == "certificate.not_found"
    assert client.get(url(granted.number)).status_code == 200


# --- privacy --------------------------------------------------------------------------------


def test_an_unpublished_site_appears_in_no_answer(world: World, client: Client) -> None:
    # given a certificate with a scope line at a site the holder does not publish
    cert = granted_with_unpublished_site(world)
    assert world.site2.published is False
    # when the three answers are read
    bodies = all_three(client, cert.number)
    # then the site's name, city and id appear in none, while its scope line's wording does
    text = json.dumps(bodies)
    assert "Second plant" not in text
    assert "Leipzig" not in text
    detail = bodies[0]
    assert [s["id"] for s in detail["sites"]] == [world.site.pk]
    assert [(line["category"], line["site_id"]) for line in detail["scope_lines"]] == [
        ("EPL", world.site.pk),
        ("PWB", None),
    ]
    assert "Printed boards, plating line" in text


def test_an_unpublished_site_added_later_is_not_named_in_the_history(
    world: World, client: Client
) -> None:
    # given a certificate to which the unpublished site is added by a new issue
    cert = world.granted()
    a = visit(world, cert, "scope_extension")
    certificate_site_add(
        actor=world.team.decision_maker,
        certificate=cert,
        assessment=a,
        new_scope_lines=[
            NewScopeLine(
                category="EPL", site=world.site2, wording="EPL, second line",
                standards=("ISO 9001:2015",),
            )
        ],
        decided_on=reported(a),
    )  # fmt: skip
    # (the summary, read from the snapshots, leaves the unpublished site's name out)
    added = (
        "Site added: an unpublished site; "
        "Scope line added: EPL at an unpublished site (Electroplating)"
    )
    assert cert.issues.get(issue_number=2).change_summary == added
    # then no answer names it, and the history says what changed without it
    bodies = all_three(client, cert.number)
    assert "Second plant" not in json.dumps(bodies)
    assert [(i["reason"], i["change_summary"]) for i in bodies[1]["issues"]] == [
        ("initial", "First issue"),
        ("site_change", added),
    ]


def test_asking_about_an_unpublished_site_reveals_nothing(world: World, client: Client) -> None:
    cert = granted_with_unpublished_site(world)
    answers = [
        client.get(url(cert.number, f"/as-of?date=2026-05-01&site={site_id}"))
        for site_id in (world.site2.pk, 999_999)
    ]
    # the unpublished site reads exactly like a site the certificate never had
    assert [a.status_code for a in answers] == [400, 400]
    assert [a.json()["code"] for a in answers] == ["site.not_published"] * 2
    assert "Second plant" not in answers[0].content.decode()


def test_the_free_text_reason_of_a_status_change_is_never_shown(
    world: World, client: Client
) -> None:
    cert = suspended_then_restored(world)
    bodies = all_three(client, cert.number)
    text = json.dumps(bodies)
    assert SECRET not in text
    assert "Complaint closed" not in text
    assert '"complaint"' in text  # the public reason category is shown


# --- history and as-of ----------------------------------------------------------------------


def test_history_lists_issues_and_status_changes_in_order(world: World, client: Client) -> None:
    cert = suspended_then_restored(world)
    response = client.get(url(cert.number, "/history"))
    assert response.status_code == 200
    assert response.json() == {
        "number": cert.number,
        "issues": [
            {
                "issue_number": 1,
                "issued_on": "2026-03-24",
                "valid_from": "2026-03-24",
                "valid_until": "2029-03-23",
                "reason": "initial",
                "change_summary": "First issue",
            }
        ],
        "status_changes": [
            {
                "effective_on": "2026-03-24",
                "from_status": "draft",
                "to_status": "current",
                "reason_category": "granted",
                "recorded": True,
            },
            {
                "effective_on": "2026-06-01",
                "from_status": "current",
                "to_status": "suspended",
                "reason_category": "complaint",
                "recorded": True,
            },
            {
                "effective_on": "2026-07-01",
                "from_status": "suspended",
                "to_status": "current",
                "reason_category": "resolved",
                "recorded": True,
            },
        ],
    }


@pytest.mark.parametrize(
    ("on", "status", "current", "issue_number", "covered", "reason"),
    [
        ("2026-03-23", "not yet issued", False, None, False, None),
        ("2026-03-24", "current", True, 1, True, "granted"),
        ("2026-06-15", "suspended", False, 1, True, "complaint"),
        ("2026-07-01", "current", True, 1, True, "resolved"),
        # no surveillance carried out: suspended from 2027-05-24, withdrawn when the maximum
        # suspension ran out, on 2027-11-24
        ("2029-03-24", "withdrawn", False, 1, True, "suspension_exceeded"),
    ],
)
def test_as_of_answers_from_the_history(
    world: World,
    client: Client,
    on: str,
    status: str,
    current: bool,
    issue_number: int | None,
    covered: bool,
    reason: str | None,
) -> None:
    cert = suspended_then_restored(world)
    response = client.get(url(cert.number, f"/as-of?date={on}&category=EPL&site={world.site.pk}"))
    assert response.status_code == 200
    assert response.json() == {
        "number": cert.number,
        "on": on,
        "category": "EPL",
        "site": world.site.pk,
        "status": status,
        "current": current,
        "issue_number": issue_number,
        "covered": covered,
        "valid_until": "2029-03-23" if issue_number else None,
        "reason_category": reason,
        "status_recorded": True,
    }


def test_as_of_a_category_outside_the_scope(world: World, client: Client) -> None:
    cert = world.granted()
    body = client.get(url(cert.number, "/as-of?date=2026-05-01&category=PWB")).json()
    assert (body["current"], body["covered"]) == (True, False)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date=2026-13-01", "date: Input should be a valid date"),
        ("?date=yesterday", "date: Input should be a valid date"),
        ("", "date: Field required"),
        ("?date=2026-05-01&site=main", "site: Input should be a valid integer"),
    ],
)
def test_bad_as_of_input_is_a_422_problem(
    world: World, client: Client, query: str, message: str
) -> None:
    cert = world.granted()
    response = client.get(url(cert.number, "/as-of" + query))
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == "invalid"
    assert body["message"].startswith(message)


# --- what no operation answers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("post", "/api/public/certificates/IECQ-A%20ZZ%2026.0001", "GET, HEAD"),
        ("delete", "/api/public/certificates/X/history", "GET"),
        ("put", "/api/public/search", "GET"),
        ("head", "/api/public/search", "GET"),
    ],
)
def test_a_method_an_operation_does_not_take_is_a_405_problem(
    client: Client, method: str, path: str, allow: str
) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == allow
    assert response["Content-Type"] == "application/json; charset=utf-8"
    if method != "head":
        assert response.json() == {
            "code": "method_not_allowed",
            "message": f"{method.upper()} is not answered here; the methods are {allow}.",
        }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/public/"),
        ("get", "/api/public/certificates"),
        ("get", "/api/public/certificates/"),
        ("get", "/api/public/search/"),
        ("get", "/api/public/certificates/X/history/extra"),
        ("post", "/api/public/nothing"),
    ],
)
def test_a_path_under_the_api_that_names_no_operation_is_a_404_problem(
    client: Client, method: str, path: str
) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": f"The public API has nothing at {path!r}; its operations are listed at "
        "/api/public/docs.",
    }


@pytest.mark.parametrize(
    "sent",
    [
        "/api/public/certificates/IECQ-A%00",
        "/api/public/certificates/IECQ-A%20ZZ%2026.0001/history?x=%00",
        "/api/public/certificates/IECQ-A%20ZZ%2026.0001/as-of?date=2026-05-01&category=EP%00L",
        "/api/public/search?standard=ISO%009001",
        "/api/public/search?q=a&q=b%00",  # an earlier value of a repeated parameter too
    ],
)
def test_a_nul_character_is_a_422_problem_before_any_query(
    reference: None, client: Client, sent: str
) -> None:
    # (PostgreSQL refuses a NUL in a text parameter: without this, a 500 there)
    response = client.get(sent)
    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid",
        "message": "The request holds a NUL character, which no value has.",
    }


# --- OpenAPI --------------------------------------------------------------------------------

PATHS = [
    "/api/public/certificates/{number}",
    "/api/public/certificates/{number}/history",
    "/api/public/certificates/{number}/as-of",
    "/api/public/certificates/{number}/receipt",
    "/api/public/search",
]


def test_openapi_document_is_served_as_3_1(client: Client) -> None:
    response = client.get("/api/public/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"] == "3.1.0"
    assert schema["info"]["title"] == "apcert public register API"
    # (the organizations and bodies of the directory router are tested with it)
    register_paths = [
        p for p, item in schema["paths"].items() if item["get"]["tags"] != ["directory"]
    ]
    assert sorted(register_paths) == sorted(PATHS)
    assert all(list(schema["paths"][p]) == ["get"] for p in PATHS)


def test_every_operation_declares_the_rate_limits_429_with_retry_after(client: Client) -> None:
    schema = client.get("/api/public/openapi.json").json()
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) >= len(PATHS)
    for operation in operations:
        refused = operation["responses"]["429"]
        assert refused["headers"]["Retry-After"]["required"] is True
        assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
        assert refused["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert schema["components"]["schemas"]["Problem"]["required"] == ["code", "message"]


def test_committed_openapi_file_matches_the_served_document(client: Client) -> None:
    served = client.get("/api/public/openapi.json").json()
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    assert committed == served, (
        "docs/openapi-public.json is out of date with the public API: "
        "regenerate it with `apcert export-openapi` and commit it."
    )


def test_export_openapi_writes_the_served_document(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    call_command("export-openapi", "--api", "public", "--output", str(out))
    assert (
        json.loads(out.read_text(encoding="utf-8")) == client.get("/api/public/openapi.json").json()
    )
    call_command("export-openapi", "--api", "public", "--output", str(out), "--check")
