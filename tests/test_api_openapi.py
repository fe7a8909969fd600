"""The public API's OpenAPI document: valid for the specification, the same as the committed
copy byte for byte, and true about refusals: every error answer an operation gives is
declared in its responses, and every one declared is given."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import override_settings
from django.utils import timezone
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from apcert.api import ratelimit
from apcert.api.openapi import COMMITTED_PATH, public_openapi_schema, public_openapi_text
from apcert.credentials.services import signing_key_generate
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import Answer, wsgi_call

PREFIX = "/api/public"


def _no_key_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicated = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicated, f"keys given twice in one object: {duplicated}"
    return dict(pairs)


def _served() -> dict[str, Any]:
    answer = wsgi_call(application, f"{PREFIX}/openapi.json")
    assert answer.status == 200
    # Parsed refusing a key given twice: a JSON parser would silently keep one of them, and
    # the docs page's reader refuses the document.
    served: dict[str, Any] = json.loads(answer.body, object_pairs_hook=_no_key_twice)
    return served


# --- the document -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_served_document_is_valid_openapi_3_1() -> None:
    document = _served()
    assert document["openapi"] == "3.1.0"
    validate(document)  # raises at the first error


def test_the_validator_refuses_an_invalid_document() -> None:
    # (so that the test above can fail: a response keyed by something that is not a status)
    document = public_openapi_schema()
    document["paths"][f"{PREFIX}/bodies"]["get"]["responses"]["often"] = {"description": "x"}
    with pytest.raises(OpenAPIValidationError):
        validate(json.loads(json.dumps(document)))


def test_responses_are_keyed_by_text_once_each() -> None:
    # ninja keys its responses by number and the document adds some by text: as JSON, 422
    # and "422" would both become "422", twice in one object.
    for path_item in public_openapi_schema()["paths"].values():
        for operation in path_item.values():
            assert all(isinstance(status, str) for status in operation["responses"])
    json.loads(public_openapi_text(), object_pairs_hook=_no_key_twice)


def test_the_committed_file_is_the_generated_document_byte_for_byte() -> None:
    assert COMMITTED_PATH.read_text(encoding="utf-8") == public_openapi_text(), (
        "docs/openapi-public.json is out of date with the public API: "
        "regenerate it with `apcert export-openapi` and commit it."
    )


# --- refusals: answered and declared ----------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    operation: str  # the document's path
    path: str  # as sent, percent-encoded
    query: str
    status: int
    code: str


def _refusals(world: World, number: str) -> list[Refusal]:
    n = quote(number, safe="")
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    cert = f"{PREFIX}/certificates/{{number}}"
    org = f"{PREFIX}/organizations/{{organization_id}}"
    body = f"{PREFIX}/bodies/{{code}}"
    code = world.team.cb.code
    return [
        Refusal(cert, f"{PREFIX}/certificates/NOPE", "", 404, "certificate.not_found"),
        Refusal(cert, f"{PREFIX}/certificates/{n}%00", "", 422, "invalid"),
        Refusal(f"{cert}/history", f"{PREFIX}/certificates/NOPE/history", "", 404,
                "certificate.not_found"),
        Refusal(f"{cert}/history", f"{PREFIX}/certificates/{n}/history", "x=%00", 422, "invalid"),
        Refusal(f"{cert}/as-of", f"{PREFIX}/certificates/{n}/as-of",
                f"date=2026-05-01&site={world.site2.pk}", 400, "site.not_published"),
        Refusal(f"{cert}/as-of", f"{PREFIX}/certificates/NOPE/as-of", "date=2026-05-01", 404,
                "certificate.not_found"),
        Refusal(f"{cert}/as-of", f"{PREFIX}/certificates/{n}/as-of", "", 422, "invalid"),
        Refusal(f"{cert}/receipt", f"{PREFIX}/certificates/{n}/receipt", "on=0", 400,
                "receipt.before_first_issue"),
        Refusal(f"{cert}/receipt", f"{PREFIX}/certificates/{n}/receipt", f"on={tomorrow}", 400,
                "invalid.date"),
        Refusal(f"{cert}/receipt", f"{PREFIX}/certificates/NOPE/receipt", "", 404,
                "certificate.not_found"),
        Refusal(f"{cert}/receipt", f"{PREFIX}/certificates/{n}/receipt", "on=2026-13-01", 422,
                "invalid"),
        Refusal(f"{PREFIX}/search", f"{PREFIX}/search", "page=0", 422, "search.invalid"),
        Refusal(org, f"{PREFIX}/organizations/999999999", "", 404, "organization.not_found"),
        Refusal(org, f"{PREFIX}/organizations/x", "", 422, "invalid"),
        Refusal(f"{PREFIX}/bodies", f"{PREFIX}/bodies", "x=%00", 422, "invalid"),
        Refusal(body, f"{PREFIX}/bodies/NOPE", "", 404, "body.not_found"),
        Refusal(body, f"{PREFIX}/bodies/{code}", "page=0", 422, "invalid"),
    ]  # fmt: skip


@pytest.fixture
def no_rate_limit() -> Iterator[None]:
    ratelimit.reset()
    with override_settings(API_RATE_LIMIT=0):
        yield
    ratelimit.reset()


def _check(document: dict[str, Any], refusal: Refusal, answer: Answer) -> None:
    assert (answer.status, answer.json()["code"]) == (refusal.status, refusal.code), refusal
    assert list(answer.json()) == ["code", "message"]
    declared = document["paths"][refusal.operation]["get"]["responses"]
    assert str(refusal.status) in declared, f"{refusal} is not declared"
    assert declared[str(refusal.status)]["content"]["application/json"]["schema"]["$ref"] in (
        "#/components/schemas/Problem",
        "#/components/schemas/DirectoryProblem",
    )
    # the description names the code it carries
    assert f"`{refusal.code}`" in declared[str(refusal.status)]["description"], refusal


@pytest.mark.django_db
def test_every_refusal_an_operation_gives_is_declared_and_every_declared_one_is_given(
    world: World, key_dir: Path, no_rate_limit: None
) -> None:
    # given a current certificate that publishes one of its holder's two sites
    cert = world.granted()
    document = _served()
    given: dict[str, set[str]] = {}

    def send(refusal: Refusal) -> None:
        answer = wsgi_call(application, refusal.path, query=refusal.query)
        _check(document, refusal, answer)
        given.setdefault(refusal.operation, set()).add(str(refusal.status))

    # when each operation is sent what it refuses: first a receipt with no key to sign it
    receipt = f"{PREFIX}/certificates/{quote(cert.number, safe='')}/receipt"
    send(Refusal(f"{PREFIX}/certificates/{{number}}/receipt", receipt, "", 503, "key.none"))
    signing_key_generate(actor=None, cb=None)
    for refusal in _refusals(world, cert.number):
        send(refusal)
    # and each once more past the rate limit
    with override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=3600):
        for operation in document["paths"]:
            ratelimit.reset()
            path = operation.replace("{number}", quote(cert.number, safe="")).replace(
                "{organization_id}", str(world.org.pk)
            )
            path = path.replace("{code}", world.team.cb.code)
            wsgi_call(application, path)
            answer = wsgi_call(application, path)
            assert answer.status == 429
            assert int(answer.headers["Retry-After"]) >= 1
            _check(document, Refusal(operation, path, "", 429, "rate_limited"), answer)
            given.setdefault(operation, set()).add("429")

    # then every error status each operation declares was given, and nothing more
    declared = {
        path: {status for status in item["get"]["responses"] if not status.startswith("2")}
        for path, item in document["paths"].items()
    }
    assert given == declared
