"""The public API of the directory: an organization with its certificates, the
accepted certification bodies, one CB with its current certificates a page at a time. Only
public fields; 404 and bad input as problem JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_transition, cb_create
from apcert.certificates.services import certificate_suspend
from tests.factories import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _within_the_maximum_suspension() -> Iterator[None]:
    # The register shows a suspension that has run to the scheme's maximum as a withdrawal,
    # whatever the sweep has recorded: these tests read certificates suspended in June 2026
    # on a day when the suspension still holds.
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 0), tick=False):
        yield


SECRET = "secret reason text"
DIRECTORY_PATHS = [
    "/api/public/organizations/{organization_id}",
    "/api/public/bodies",
    "/api/public/bodies/{code}",
]


def get_json(client: Client, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, (url, response.content)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert not response.cookies
    return response.json()


def acceptances(accepted_on: str = "2020-01-01") -> list[dict[str, Any]]:
    """The three AP programmes World.make_cb accepts a CB for, as the API lists them."""
    names = {
        "AP": "IECQ Approved Process (general)",
        "AP-CAP": "IECQ AP Counterfeit Avoidance Programme",
        "AP-ESD": "IECQ AP ESD Control Programme",
    }
    return [
        {
            "scheme": {"code": "AP", "name": "IECQ Approved Process Scheme"},
            "programme": {"code": code, "name": name},
            "status": "active",
            "accepted_on": accepted_on,
            "valid_until": None,
            "in_force": True,
            "categories": [],
        }
        for code, name in names.items()
    ]


# --- organizations ----------------------------------------------------------------------------


def test_organization_answers_its_public_certificates(world: World, client: Client) -> None:
    # given a holder with a current and a suspended certificate
    first = world.granted()
    second = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker, certificate=second, reason_category="complaint",
        reason=SECRET, decided_on=dt.date(2026, 6, 1),
    )  # fmt: skip
    # when anyone asks for it by id
    body = get_json(client, f"/api/public/organizations/{world.org.pk}")
    # then exactly its public record
    code = world.team.cb.code
    cb = {"code": code, "name": f"Cert Body {code}", "country": "DE"}
    common = {
        "expires_on": "2029-03-23",
        "issue_number": 1,
        "scheme": {"code": "AP", "name": "IECQ Approved Process Scheme"},
        "programmes": [{"code": "AP", "name": "IECQ Approved Process (general)"}],
        "cb": cb,
    }
    assert body == {
        "id": world.org.pk,
        "name": world.org.legal_name,
        "country": "DE",
        "certificates": [
            {
                "number": first.number,
                "status": "current",
                "status_since": "2026-03-24",
                "status_recorded": True,
                **common,
            },
            {
                "number": second.number,
                "status": "suspended",
                "status_since": "2026-06-01",
                "status_recorded": True,
                **common,
            },
        ],
    }
    text = json.dumps(body)
    assert SECRET not in text
    assert world.org.registration_number not in text


def test_organization_without_a_public_certificate_is_a_404_problem(
    world: World, client: Client
) -> None:
    world.accepted_application()  # applied, not certified
    for organization_id in (world.org.pk, 999_999, 0, 2**64):
        assert get_json(client, f"/api/public/organizations/{organization_id}", 404) == {
            "code": "organization.not_found",
            "message": f"There is no organization {organization_id} in the public register.",
        }


def test_organization_id_must_be_a_number(reference: None, client: Client) -> None:
    body = get_json(client, "/api/public/organizations/acme", 422)
    assert body["code"] == "invalid"
    assert body["message"].startswith("organization_id: Input should be a valid integer")


# --- certification bodies ---------------------------------------------------------------------


def test_bodies_lists_accepted_cbs_with_acceptances_and_counts(
    world: World, client: Client
) -> None:
    # given a CB with one current certificate, one whose only acceptance is suspended and
    # one never accepted
    world.granted()
    other = World.make_cb(world.secretariat, "ZQ", dt.date(2021, 2, 3), programmes=("AP",))
    cb_acceptance_transition(
        actor=world.secretariat,
        acceptance=CBAcceptance.objects.get(cb=other.cb),
        action="suspend",
        reason=SECRET,
    )
    cb_create(actor=world.secretariat, code="NA", name="Not Accepted", country="FR")
    # when the list is asked for
    body = get_json(client, "/api/public/bodies")
    # then the accepted CBs, by code, each with its acceptances
    code = world.team.cb.code
    assert body == {
        "bodies": [
            {
                "code": code,
                "name": f"Cert Body {code}",
                "country": "DE",
                "website": "",
                "current_certificates": 1,
                "acceptances": acceptances(),
            },
            {
                "code": "ZQ",
                "name": "Cert Body ZQ",
                "country": "DE",
                "website": "",
                "current_certificates": 0,
                "acceptances": [
                    {
                        **acceptances("2021-02-03")[0],
                        "status": "suspended",
                        "in_force": False,
                    }
                ],
            },
        ]
    }
    assert SECRET not in json.dumps(body)


def test_body_answers_its_current_certificates_a_page_at_a_time(
    world: World, client: Client
) -> None:
    # given three current certificates and a suspended one
    certs = sorted((world.granted() for _ in range(3)), key=lambda c: c.number)
    suspended = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker, certificate=suspended, reason_category="complaint",
        reason=SECRET, decided_on=dt.date(2026, 6, 1),
    )  # fmt: skip
    code = world.team.cb.code
    # when the second page of two is asked for (the code in any case)
    body = get_json(client, f"/api/public/bodies/{code.lower()}?page=2&per_page=2")
    # then the CB, the count of current certificates and the one certificate left
    assert body == {
        "code": code,
        "name": f"Cert Body {code}",
        "country": "DE",
        "website": "",
        "current_certificates": 3,
        "acceptances": acceptances(),
        "page": 2,
        "per_page": 2,
        "pages": 2,
        "certificates": [
            {
                "number": certs[2].number,
                "status_since": "2026-03-24",
                "expires_on": "2029-03-23",
                "issue_number": 1,
                "organization_id": world.org.pk,
                "holder": {"name": world.org.legal_name, "country": "DE"},
                "programmes": [{"code": "AP", "name": "IECQ Approved Process (general)"}],
            }
        ],
    }
    first_page = get_json(client, f"/api/public/bodies/{code}?per_page=2")
    assert [c["number"] for c in first_page["certificates"]] == [c.number for c in certs[:2]]
    # a page past the last is empty
    assert get_json(client, f"/api/public/bodies/{code}?page=9")["certificates"] == []


def test_unknown_body_is_a_404_problem(reference: None, client: Client) -> None:
    assert get_json(client, "/api/public/bodies/NOPE", 404) == {
        "code": "body.not_found",
        "message": "There is no certification body 'NOPE' in the public register.",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?page=0", "page: Input should be greater than or equal to 1"),
        ("?per_page=101", "per_page: Input should be less than or equal to 100"),
        ("?page=first", "page: Input should be a valid integer"),
        ("?page=1000001", "page: Input should be less than or equal to 1000000"),
    ],
)
def test_bad_paging_is_a_422_problem(
    world: World, client: Client, query: str, message: str
) -> None:
    body = get_json(client, f"/api/public/bodies/{world.team.cb.code}{query}", 422)
    assert set(body) == {"code", "message"}
    assert body["code"] == "invalid"
    assert body["message"].startswith(message)


def test_directory_endpoints_run_a_bounded_number_of_queries(
    world: World, client: Client, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        world.granted()
    World.build().granted()
    # (each with the register's latest change first, for the answer's cache validator)
    with django_assert_max_num_queries(2):
        get_json(client, f"/api/public/organizations/{world.org.pk}")
    with django_assert_max_num_queries(4):
        get_json(client, "/api/public/bodies")
    with django_assert_max_num_queries(6):
        get_json(client, f"/api/public/bodies/{world.team.cb.code}")


def test_directory_paths_are_in_the_openapi_document(client: Client) -> None:
    schema = client.get("/api/public/openapi.json").json()
    for path in DIRECTORY_PATHS:
        assert list(schema["paths"][path]) == ["get"], path
        responses = schema["paths"][path]["get"]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].startswith(
            "#/components/schemas/"
        )
    organization = schema["components"]["schemas"]["OrganizationOut"]
    assert sorted(organization["properties"]) == ["certificates", "country", "id", "name"]
