"""Schemathesis against the served API for integrators, with a CB's write token: every
operation of its OpenAPI document, with generated input (valid and invalid), answered
in-process by the WSGI application. Checks: no server error, and every answer is one the
document declares (status, content type, headers, body schema). Then the same operations
without a token, and with a token of another CB: only declared refusals. Bounded and
deterministic: a fixed seed and a few dozen examples an operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st

from apcert.accounts.api_tokens import api_token_issue
from apcert.applications.services import application_submit
from apcert.bodies.services import cb_staff_add
from apcert.wsgi import application
from tests.factories import DAY0, World, make_user
from tests.wsgi_support import connections_kept

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261207,
        "generation": {
            "mode": "all",
            "max-examples": 25,
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

SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)

#: Values that name something of the test's own place, by parameter name; and the secrets
#: of the tokens the cases send.
KNOWN: dict[str, list[Any]] = {}
SECRETS: dict[str, str] = {}


@SCHEMA.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    variants = [path_parameters]
    for name, values in KNOWN.items():
        if name in path_parameters:
            variants += [{**path_parameters, name: value} for value in values]
    return st.sampled_from(variants)


@pytest.fixture(autouse=True)
def place(world: World) -> Iterator[None]:
    # given a CB with a certificate, a submitted application and two drafts' worth of
    # applications, its administrator's write token, and another CB's token
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    certificate = world.granted()
    submitted = [
        application_submit(actor=world.org_user, application=world.draft_application(), on=DAY0)
        for _ in range(2)
    ]
    other = World.build(cb_code="NORD")
    other_admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=other.team.cb, user=other_admin, role="admin")
    SECRETS.update(
        own=api_token_issue(actor=admin, name="own", place=world.team.cb, scope="write").secret,
        other=api_token_issue(
            actor=other_admin, name="other", place=other.team.cb, scope="write"
        ).secret,
    )
    # and an assessment in progress, with a finding the organization has answered
    assessment = world.assessment(world.accepted_application(), findings=("major",), report=False)
    finding = assessment.findings.get()
    answer = world.answer(finding)
    KNOWN.update(
        number=[certificate.number],
        application_id=[a.pk for a in submitted],
        assessment_id=[assessment.pk],
        finding_id=[finding.pk],
        corrective_action_id=[answer.pk],
    )
    with connections_kept():
        yield
    KNOWN.clear()
    SECRETS.clear()


@SCHEMA.parametrize()
def test_the_integrations_api_answers_as_its_document_says(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {SECRETS['own']}"}, checks=CHECKS)


#: The operations that answer a token of any place (about the token, or its own lists).
ANY_PLACE = {
    "/api/v1/token",
    "/api/v1/certificates",
    "/api/v1/applications",
    "/api/v1/assessments",
    "/api/v1/findings",
    "/api/v1/publication-reviews",
}


@SCHEMA.parametrize()
def test_without_a_valid_token_or_with_another_place_s_only_declared_refusals(case: Any) -> None:
    for secret in (None, "apcert_x"):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        # (a method the operation does not take is refused before the token is read)
        assert case.call_and_validate(headers=headers, checks=CHECKS).status_code in (401, 405)
    # Another CB's token finds nothing of this place
    other = {"Authorization": f"Bearer {SECRETS['other']}"}
    response = case.call_and_validate(headers=other, checks=CHECKS)
    assert response.status_code != 200 or case.path in ANY_PLACE
