"""Schemathesis against the API for integrators as it is served: ``apcert serve`` on
127.0.0.1 (a SQLite database of its own, with demo data), called over HTTP with a CB
administrator's write token issued by ``apcert api-token-issue``. Every operation of the
document the server itself publishes, with generated input (valid and invalid): no server
error, and every answer one the document declares. Bounded and deterministic: a fixed seed
and a few examples an operation (the in-process run covers more, with known ids)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from tests.test_docs_integrations import _apcert, _env, _free_port

pytestmark = [
    pytest.mark.own_sqlite,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261207,
        "generation": {
            "mode": "all",
            "max-examples": 6,
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

SERVED: dict[str, str] = {}


DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi-integrations.json"
#: The committed document, which the served one must be (checked below), so that the cases
#: are known before the server runs.
SCHEMA = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    var = tmp_path_factory.mktemp("live") / "var"
    _apcert(var, "migrate", "--noinput", "-v0")
    _apcert(var, "load-reference")
    _apcert(var, "demo-data", "--certificates", "20", "--seed", "3", "--quiet")
    _apcert(var, "demo-accounts")
    (var / "static").mkdir(exist_ok=True)
    secret = _apcert(
        var, "api-token-issue", "--by", "nzc-admin", "--for", "cb:NZC", "--scope", "write"
    ).strip()
    port = _free_port()
    env = _env(var)
    # every generated case is a request: the token's limit is not what is under test here
    env["APCERT_API_TOKEN_RATE_LIMIT"] = "1000000"
    log_path = var.parent / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
            cwd=var.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5):  # noqa: S310
                    break
            except (OSError, urllib.error.HTTPError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(log_path.read_text(errors="replace"))
                time.sleep(0.2)
        SERVED.update(base=base, secret=secret)
        request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
            base + "/api/v1/token", headers={"Authorization": f"Bearer {secret}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            token = json.load(answer)
        assert token["place"]["code"] == "NZC" and token["scope"] == "write"
        with urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=10) as answer:  # noqa: S310
            assert json.load(answer) == json.loads(DOCUMENT.read_text(encoding="utf-8"))
        yield SERVED
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        SERVED.clear()
        text = log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


@SCHEMA.parametrize()
def test_the_served_api_answers_as_its_document_says(case: Any, live: dict[str, str]) -> None:
    response = case.call_and_validate(
        base_url=live["base"],
        headers={"Authorization": f"Bearer {live['secret']}"},
        checks=CHECKS,
    )
    assert response.status_code < 500
