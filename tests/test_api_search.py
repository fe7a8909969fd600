"""``GET /api/public/search``: the register search (apcert.register.search) over the public
API, with the parameters of the search pages, an output schema of public fields, and 422
problem JSON for a parameter the search cannot use."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.test import Client, override_settings

from apcert.api import ratelimit
from apcert.api.public import FacetsOut
from apcert.certificates.models import Certificate
from apcert.organizations.services import organization_create, site_create
from apcert.register.search import FACETS, InvalidSearch, SearchQuery, search
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import wsgi_call

pytestmark = pytest.mark.django_db

URL = "/api/public/search"


def holder(world: World, *, name: str, country: str, city: str, category: str) -> Certificate:
    """A certificate granted, through the services, to a new holder with one site."""
    org = organization_create(actor=world.org_user, legal_name=name, country=country)
    site = site_create(
        actor=world.org_user, organization=org, name=f"{city} works", city=city, country=country
    )
    return dataclasses.replace(world, org=org, site=site).granted(category=category)


@pytest.fixture
def register(world: World) -> dict[str, Certificate]:
    return {
        "dresden": world.granted(),
        "anodica": holder(world, name="Anodica Srl", country="IT", city="Torino", category="EPL"),
        "tinwell": holder(
            world, name="Tinwell Plating Ltd", country="GB", city="Leeds", category="PWB"
        ),
    }


def get(client: Client, **params: Any) -> Any:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def test_a_search_answers_one_page_of_hits_with_their_public_fields(
    world: World, register: dict[str, Certificate], client: Client
) -> None:
    cert = register["anodica"]
    response = client.get(URL, {"q": "anodica"})
    assert response.status_code == 200
    assert not response.cookies
    code = world.team.cb.code
    assert response.json() == {
        "hits": [
            {
                "number": cert.number,
                "holder_name": "Anodica Srl",
                "country": "IT",
                "organization_id": cert.organization_id,
                "cb_code": code,
                "cb_name": f"Cert Body {code}",
                "scheme_code": "AP",
                "programmes": ["AP"],
                "status": "current",
                "status_since": "2026-03-24",
                "status_recorded": True,
                "expires_on": "2029-03-23",
                "cities": ["Torino"],
                "categories": ["EPL"],
                "transferred_from": None,
                "transferred_to": None,
            }
        ],
        "total": 1,
        "total_exact": True,
        "page": 1,
        "pages": 1,
        "per_page": 20,
        "facets": {
            "status": [{"value": "current", "label": "current", "count": 1}],
            "scheme": [{"value": "AP", "label": "IECQ Approved Process Scheme", "count": 1}],
            "programme": [{"value": "AP", "label": "IECQ Approved Process (general)", "count": 1}],
            "category": [{"value": "EPL", "label": "Electroplating", "count": 1}],
            "standard": [{"value": "ISO 9001", "label": "ISO 9001", "count": 1}],
            "country": [{"value": "IT", "label": "IT", "count": 1}],
            "cb": [{"value": code, "label": f"Cert Body {code}", "count": 1}],
        },
        "corrected": None,
    }


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": "plating"},
        {"q": "Tinwel"},  # a typo, corrected
        {"country": "GB"},
        {"category": "EPL", "sort": "holder"},
        {"sort": "number", "per_page": "1", "page": "2"},
        {"sort": "expires", "status": "current", "cb": "NOPE"},
        {"q": "  ", "scheme": "AP", "programme": "AP", "standard": "ISO 9001"},
        {"sort": "changed", "page": "9"},  # past the last page: no hits
    ],
)
def test_the_answer_is_the_registers_search_result_field_for_field(
    register: dict[str, Certificate], client: Client, params: dict[str, str]
) -> None:
    # given the same parameters as a search page would take
    body = get(client, **params)
    # then the API answers exactly what the register's search selector finds
    result = search(SearchQuery.from_params(params))
    assert [h["number"] for h in body["hits"]] == [h.number for h in result.hits]
    assert [
        (h["holder_name"], h["cities"], h["categories"], h["status_since"]) for h in body["hits"]
    ] == [
        (h.holder_name, list(h.cities), list(h.categories), h.status_since.isoformat())
        for h in result.hits
    ]
    assert (body["total"], body["total_exact"], body["corrected"]) == (
        result.total,
        result.total_exact,
        result.corrected,
    )
    assert (body["page"], body["pages"], body["per_page"]) == (
        result.query.page,
        result.pages,
        result.query.per_page,
    )
    assert body["facets"] == {
        name: [dataclasses.asdict(c) for c in result.facets.get(name, [])] for name in FACETS
    }


def test_filters_narrow_and_pages_split_the_hits(
    register: dict[str, Certificate], client: Client
) -> None:
    everyone = sorted(c.number for c in register.values())
    assert [h["number"] for h in get(client, sort="number")["hits"]] == everyone
    assert [h["number"] for h in get(client, country="GB")["hits"]] == [register["tinwell"].number]
    first, second = (get(client, sort="number", per_page=2, page=p) for p in (1, 2))
    assert [h["number"] for h in first["hits"] + second["hits"]] == everyone
    assert (first["total"], first["pages"], second["page"]) == (3, 2, 2)


def test_a_corrected_typo_is_said(register: dict[str, Certificate], client: Client) -> None:
    body = get(client, q="Anodca")
    assert [h["number"] for h in body["hits"]] == [register["anodica"].number]
    assert body["corrected"] == "anodica"


def test_an_unpublished_site_is_never_in_a_hit(world: World, client: Client) -> None:
    # World's second site (Leipzig) is not published; give it a scope line of its own
    cert = dataclasses.replace(world, site=world.site2).granted(category="PWB")
    body = get(client, q=cert.number)
    assert [h["number"] for h in body["hits"]] == [cert.number]
    assert body["hits"][0]["cities"] == []
    assert "Leipzig" not in str(body)


def test_the_facets_list_every_filter_of_the_search() -> None:
    assert tuple(FacetsOut.model_fields) == FACETS


# --- bad parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "price"}, "sort: one of relevance, newest, number, holder, expires, changed."),
        ({"status": "draft"}, None),
        ({"page": "0"}, "page: from 1 to 500."),
        ({"page": "two"}, "page: a whole number."),
        ({"per_page": "101"}, "per_page: from 1 to 100."),
        ({"per_page": "1.5"}, None),
        ({"q": "x" * 201}, "q: at most 200 characters."),
    ],
)
def test_a_parameter_the_search_cannot_use_is_a_422_problem(
    reference: None, client: Client, params: dict[str, str], message: str | None
) -> None:
    response = client.get(URL, params)
    assert response.status_code == 422
    # the message is the search's own, passed on unchanged
    with pytest.raises(InvalidSearch) as refused:
        SearchQuery.from_params(params)
    assert response.json() == {"code": "search.invalid", "message": refused.value.message}
    if message is not None:
        assert refused.value.message == message


@override_settings(API_RATE_LIMIT=2, API_RATE_WINDOW=60)
def test_the_rate_limit_applies_to_the_search(reference: None) -> None:
    ratelimit.reset()
    statuses = [wsgi_call(application, URL, query="q=plating").status for _ in range(3)]
    ratelimit.reset()
    assert statuses == [200, 200, 429]


# --- the document ---------------------------------------------------------------------------


def test_the_document_says_what_each_parameter_takes(client: Client) -> None:
    operation = client.get("/api/public/openapi.json").json()["paths"][URL]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert list(schemas) == [
        "q",
        "status",
        "scheme",
        "programme",
        "category",
        "standard",
        "country",
        "cb",
        "sort",
        "page",
        "per_page",
    ]
    assert all(p["in"] == "query" and p["required"] is False for p in operation["parameters"])
    assert (schemas["q"]["type"], schemas["q"]["maxLength"]) == ("string", 200)
    assert schemas["status"]["enum"] == [
        "current",
        "suspended",
        "withdrawn",
        "cancelled",
        "expired",
    ]
    assert schemas["sort"]["enum"] == [
        "relevance",
        "newest",
        "number",
        "holder",
        "expires",
        "changed",
    ]
    assert {k: schemas["page"][k] for k in ("type", "minimum", "maximum", "default")} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 1,
    }
    assert {k: schemas["per_page"][k] for k in ("type", "minimum", "maximum", "default")} == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    assert sorted(operation["responses"]) == ["200", "422", "429"]
