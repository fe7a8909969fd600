"""Schemathesis against the served public API: every operation of the OpenAPI document, with
generated input (valid and invalid), answered in-process by the WSGI application that granian
serves (the rate-limit layer and the certificate fast path in front of Django).

Checks: no server error, and every answer is one the document declares (status code,
content type, required headers, body schema), 404, 422 and 429 problems included. Bounded
and deterministic: a fixed seed and a few dozen examples an operation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.credentials.services import signing_key_generate
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import connections_kept

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260324,
        "generation": {
            "mode": "all",
            "max-examples": 30,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
    }
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


# Loaded from the served application when the module is collected (the document needs no
# database). Schemathesis' fixture-based loader does not run under pytest 9, hence this form.
SCHEMA = schemathesis.openapi.from_wsgi("/api/public/openapi.json", application, config=CONFIG)

#: Values that name something in the register of the test being run, by parameter name.
KNOWN: dict[str, list[Any]] = {}


# Generated values rarely name something that exists: mix in some that do, so that the
# answers about found things are checked too.
@SCHEMA.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    variants = [path_parameters]
    for name, values in KNOWN.items():
        if name in path_parameters:
            variants += [{**path_parameters, name: value} for value in values]
    return st.sampled_from(variants)


@SCHEMA.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    if not isinstance(query, dict):
        return st.just(query)
    variants = [query]
    for name in ("q", "site"):
        if name in query:
            variants += [{**query, name: value} for value in KNOWN.get(name, [])]
    return st.sampled_from(variants)


@pytest.fixture(autouse=True)
def register(world: World, key_dir: Path) -> Iterator[None]:
    # given a register with a current and a suspended certificate, and its own key (the
    # receipts are signed: without a key they would all be the 503 of a register not set up)
    signing_key_generate(actor=None, cb=None)
    current = world.granted()
    suspended: Certificate = certificate_suspend(
        actor=world.team.decision_maker, certificate=world.granted(),
        reason_category="complaint", reason="under review",
        decided_on=current.status_since + dt.timedelta(days=10),
    )  # fmt: skip
    KNOWN.update(
        number=[current.number, suspended.number],
        organization_id=[world.org.pk],
        code=[world.team.cb.code],
        q=["plating works", current.number],
        site=[world.site.pk],
    )
    # (the rate limit would refuse an arbitrary part of the run: see the test after this one)
    with override_settings(API_RATE_LIMIT=0), connections_kept():
        yield
    KNOWN.clear()


@SCHEMA.parametrize()
def test_the_public_api_answers_as_its_document_says(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.fixture
def statuses() -> Iterator[list[int]]:
    """A limit of 3 an hour, and the statuses answered under it (refusals among them)."""
    seen: list[int] = []
    with override_settings(API_RATE_LIMIT=3, API_RATE_WINDOW=3600):
        yield seen
    assert seen.count(429) >= len(seen) - 3 > 0


@SCHEMA.include(path_regex=r"/certificates/\{number\}$").parametrize()
# (the fixture is meant to live across the generated cases: it counts them)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_refusals_of_the_rate_limit_are_as_documented(case: Any, statuses: list[int]) -> None:
    # the certificate read, which the fast path answers: its 429 too, with Retry-After
    statuses.append(case.call_and_validate(checks=CHECKS).status_code)
