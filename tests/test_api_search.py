"""``GET /api/public/search``: the register search (apcert.register.search) over the public
API, with the parameters of the search pages, an output schema of public fields, and 422
problem JSON for a parameter the search cannot use."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from ninja.responses import NinjaJSONEncoder

from apcert.api import ratelimit
from apcert.api.public import (
    FacetCountOut,
    FacetsOut,
    SearchHitOut,
    SearchOut,
    TransferLinkOut,
    api,
)
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_transfer
from apcert.demo.generate import demo_data_generate
from apcert.organizations.services import organization_create, site_create
from apcert.register.documents import transfer_link
from apcert.register.models import SearchEntry
from apcert.register.search import (
    FACETS,
    SORTS,
    InvalidSearch,
    SearchQuery,
    SearchResult,
    search,
)
from apcert.wsgi import application
from tests.factories import World, make_user
from tests.flows_support import DAYS, reported, visit
from tests.test_flows_transfer import ACCEPTED
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


# --- the answer, built without the schema ---------------------------------------------------


def _answer_through_the_schema(result: SearchResult) -> str:
    """The answer as the schema made it, hit by hit through SearchHitOut, then rendered by
    ninja's JSON renderer: the reference the answer built with orjson must equal."""

    def link(number: str | None) -> TransferLinkOut | None:
        found = transfer_link(number)
        return None if found is None else TransferLinkOut(**found)

    answer = SearchOut(
        hits=[
            SearchHitOut(
                number=h.number,
                holder_name=h.holder_name,
                country=h.country,
                organization_id=h.organization_id,
                cb_code=h.cb_code,
                cb_name=h.cb_name,
                scheme_code=h.scheme_code,
                programmes=list(h.programmes),
                status=h.status,
                status_since=h.status_since,
                status_recorded=h.status_recorded,
                expires_on=h.expires_on,
                cities=list(h.cities),
                categories=list(h.categories),
                transferred_from=link(h.transferred_from),
                transferred_to=link(h.transferred_to),
            )
            for h in result.hits
        ],
        total=result.total,
        total_exact=result.total_exact,
        page=result.query.page,
        pages=result.pages,
        per_page=result.query.per_page,
        facets=FacetsOut(
            **{
                name: [
                    FacetCountOut(value=c.value, label=c.label, count=c.count)
                    for c in result.facets.get(name, [])
                ]
                for name in FACETS
            }
        ),
        corrected=result.corrected,
    )
    rendered = api.renderer.render(None, answer.model_dump(), response_status=200)  # type: ignore[arg-type]
    return str(rendered)


def _searches_over(
    numbers: list[str], holders: list[str], cities: list[str], transferred: list[str]
) -> list[dict[str, str]]:
    """Searches of every kind the API takes, made from what the demo data holds."""
    searches: list[dict[str, str]] = [{}]
    searches += [{"sort": sort} for sort in SORTS]
    searches += [{"status": status, "sort": "changed"} for status in PUBLIC_STATUSES]
    searches += [{"status": status, "per_page": "100"} for status in PUBLIC_STATUSES]
    searches += [{"sort": sort, "page": str(page), "per_page": "7"} for sort in SORTS
                 for page in (1, 2, 5)]  # fmt: skip
    searches += [{"q": number} for number in numbers[:8] + transferred]
    searches += [{"q": number.lower().replace(" ", "")} for number in numbers[8:12]]
    for name in holders[:10]:
        first = name.split()[0]
        searches.append({"q": first})
        searches.append({"q": first[:-1] + ("x" if first[-1] != "x" else "y")})  # a typo
        searches.append({"q": first, "sort": "holder", "per_page": "3", "page": "2"})
    for city in cities[:6]:
        searches.append({"q": city})
        searches.append({"q": city, "status": "current", "sort": "expires"})
    searches += [
        {"country": "DE"},
        {"country": "DE", "status": "expired", "sort": "number"},
        {"scheme": "AP", "programme": "AP", "sort": "changed", "per_page": "50"},
        {"category": "PWB", "sort": "newest", "page": "2", "per_page": "5"},
        {"standard": "ISO 9001", "status": "suspended"},
        {"q": "plating", "sort": "relevance"},
        {"q": "plating", "page": "500"},  # past the last page: no hits
        {"q": "zzzzqqq"},  # nothing
    ]
    return searches


def test_the_answer_is_the_one_the_schema_made_across_the_demo_data(
    reference: None, client: Client
) -> None:
    # given the demo data (every status, many CBs) and a certificate transferred to another
    # CB, read half a year after it was made, so that the calendar has changed statuses the
    # register has not recorded yet
    demo_data_generate(certificates=80, seed=11, reference_date=dt.date(2026, 6, 1))
    world = World.build()
    old = world.granted()
    new_team = World.make_cb(world.secretariat, f"N{make_user('cb').pk}", ACCEPTED)
    review = visit(world, old, "transfer_review", team=new_team)
    new = certificate_transfer(
        actor=new_team.decision_maker,
        certificate=old,
        assessment=review,
        decided_on=reported(review) + 5 * DAYS,
    )
    numbers = list(Certificate.objects.exclude(status="draft").order_by("number")
                   .values_list("number", flat=True))  # fmt: skip
    holders = list(SearchEntry.objects.order_by("number").values_list("holder_name", flat=True))
    cities = sorted({c for text in SearchEntry.objects.values_list("cities", flat=True)
                     for c in text.split("\n") if c})  # fmt: skip
    seen: dict[str, set[Any]] = {"status": set(), "recorded": set(), "transfer": set()}
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, 0), tick=False):
        for params in _searches_over(numbers, holders, cities, [old.number, new.number]):
            # when the API answers a search
            response = client.get(URL, params)
            assert response.status_code == 200, (params, response.content)
            assert response["Content-Type"] == "application/json; charset=utf-8"
            # then it is, key for key in the same order and value for value, the answer
            # the schema made of the same search: the same text once both are written alike
            expected = _answer_through_the_schema(search(SearchQuery.from_params(params)))
            answered = json.loads(response.content)
            assert json.dumps(answered, cls=NinjaJSONEncoder) == expected, params
            for hit in answered["hits"]:
                seen["status"].add(hit["status"])
                seen["recorded"].add(hit["status_recorded"])
                seen["transfer"].add(bool(hit["transferred_from"] or hit["transferred_to"]))
    # and the searches met every status, statuses of the day not yet recorded, and transfers
    assert seen == {
        "status": set(PUBLIC_STATUSES),
        "recorded": {True, False},
        "transfer": {True, False},
    }
