"""The examples of ``docs/integrations.md``, run as written with curl against apcert served
on 127.0.0.1 (``apcert serve`` on a SQLite database of its own, a token issued with
``apcert api-token-issue``): each answers what the page says it does."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import apcert

DOC = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"
EXAMPLE_HOST = "https://apcert.example.org"

pytestmark = [
    pytest.mark.own_sqlite,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]


def _env(var: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    # The code under test, whatever the subprocess's working directory (a relative
    # PYTHONPATH would fall back to whichever apcert is installed)
    source = str(Path(apcert.__file__).resolve().parents[1])
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (source, environ.get("PYTHONPATH")) if p)
    environ["APCERT_VAR_DIR"] = str(var)
    environ["APCERT_PDF_DRAW_PROCESS"] = "0"
    return environ


def _apcert(var: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=var.parent,
        env=_env(var),
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _curl_commands(section: str) -> list[str]:
    """The curl commands of the ``sh`` blocks of one section (``## 2.`` ...), each with its
    continuation lines joined."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"```sh\n(.*?)```", text[start : end if end > 0 else None], re.S)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        commands.extend(line.strip() for line in joined.splitlines() if line.strip())
    return [c for c in commands if c.startswith("curl ")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    var = tmp_path_factory.mktemp("docs") / "var"
    _apcert(var, "migrate", "--noinput", "-v0")
    _apcert(var, "load-reference")
    _apcert(var, "demo-data", "--certificates", "20", "--seed", "3", "--quiet")
    _apcert(var, "demo-accounts")
    (var / "static").mkdir(exist_ok=True)
    read = _apcert(var, "api-token-issue", "--by", "secretariat", "--for", "secretariat")
    write = _apcert(
        var, "api-token-issue", "--by", "secretariat", "--for", "secretariat", "--scope", "write"
    )
    port = _free_port()
    log = (var.parent / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=var.parent,
        env=_env(var),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5):  # noqa: S310
                    break
            except (OSError, urllib.error.HTTPError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((var.parent / "serve.log").read_text(errors="replace"))
                time.sleep(0.2)
        yield {"base": base, "read": read.strip(), "write": write.strip()}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _run(command: str, served: dict[str, str], secret: str, number: str = "") -> tuple[int, dict]:
    command = command.replace(EXAMPLE_HOST, served["base"])
    if number:
        command = command.replace(quote("IECQ-A TUV 26.0001"), quote(number))
    # The status after the body, on a line of its own
    command = command.replace("curl -s", "curl -s -w '\\n%{http_code}'", 1)
    done = subprocess.run(  # noqa: S603 - the documented command, against 127.0.0.1
        ["bash", "-c", command],  # noqa: S607
        env={**os.environ, "APCERT_TOKEN": secret},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_the_token_example_answers_what_the_token_is(served: dict[str, str]) -> None:
    [command] = _curl_commands("2. ")
    status, body = _run(command, served, served["read"])
    assert status == 200
    assert body["place"]["kind"] == "secretariat" and body["scope"] == "read"
    # And without a valid token, the refusal the page shows
    status, body = _run(command, served, "apcert_not-a-token")
    assert (status, body["code"]) == (401, "api_token.invalid")


def test_the_read_examples_answer_lists_and_a_certificate(served: dict[str, str]) -> None:
    commands = _curl_commands("3. ")
    assert len(commands) == 4
    status, first = _run(commands[0], served, served["read"])
    assert status == 200 and first["items"]
    number = first["items"][0]["number"]
    status, page = _run(commands[1], served, served["read"])
    assert status == 200 and "items" in page and "next_after" in page
    status, certificate = _run(commands[2], served, served["read"], number=number)
    assert (status, certificate["number"]) == (200, number)
    status, applications = _run(commands[3], served, served["read"])
    assert status == 200 and "items" in applications


def test_the_write_examples_are_refused_as_the_page_says(served: dict[str, str]) -> None:
    commands = _curl_commands("4. ")
    assert len(commands) == 2
    for command in commands:
        # A read token: the write scope is needed
        status, body = _run(command, served, served["read"])
        assert (status, body["code"]) == (403, "api_token.write_scope_required")
        # A write token: the request is taken, and the example's application does not exist
        status, body = _run(command, served, served["write"])
        assert (status, body["code"]) == (404, "application.not_found")


def test_the_workflow_examples_answer_as_the_page_says(served: dict[str, str]) -> None:
    reads, writes, [if_match] = (
        (commands := _curl_commands("5. "))[:3],
        commands[3:9],
        commands[9:10],
    )
    assert len(commands) == 10 + len(LIFECYCLE)
    status, assessments = _run(reads[0], served, served["read"])
    assert status == 200 and assessments["items"]
    status, body = _run(reads[1], served, served["read"])
    assert (status, body["code"]) == (404, "assessment.not_found")  # no such id in the data
    status, findings = _run(reads[2], served, served["read"])
    assert status == 200 and "next_after" in findings
    expected = ["application.not_found"] + ["assessment.not_found"] * 2
    expected += ["corrective_action.not_found"] + ["assessment.not_found"] * 2
    for command, code in zip(writes, expected, strict=True):
        status, body = _run(command, served, served["read"])
        assert (status, body["code"]) == (403, "api_token.write_scope_required")
        status, body = _run(command, served, served["write"])
        assert (status, body["code"]) == (404, code), command
    # The If-Match example, on a certificate of the data: the example's ETag is not the
    # certificate's (412), and without the header the change is not taken (428)
    status, first = _run(_curl_commands("3. ")[0], served, served["read"])
    number = first["items"][0]["number"]
    status, body = _run(if_match, served, served["write"], number=number)
    assert (status, body["code"]) == (412, "precondition.if_match_failed")
    without = re.sub(r"-H 'If-Match: [^']*'", "", if_match)
    status, body = _run(without, served, served["write"], number=number)
    assert (status, body["code"]) == (428, "precondition.if_match_required")


#: The examples of section 5 after the If-Match one (the transfer, the corrections, the
#: review before publication), each with what the served data answers a Secretariat token
#: with the write scope: a transfer review is planned by a CB; the example ids are none of
#: the data's; the publication reviews are listed; the example's ETag is not the
#: certificate's.
LIFECYCLE = (
    ("post", 403, "permission.cb_role_required"),
    ("get", 404, "assessment.not_found"),
    ("post", 404, "assessment.not_found"),
    ("post", 404, "finding.not_found"),
    ("post", 404, "assessment.not_found"),
    ("get", 200, None),
    ("post", 412, "precondition.if_match_failed"),
)


def test_the_lifecycle_examples_answer_as_the_page_says(served: dict[str, str]) -> None:
    commands = _curl_commands("5. ")[10:]
    assert len(commands) == len(LIFECYCLE)
    status, first = _run(_curl_commands("3. ")[0], served, served["read"])
    number = first["items"][0]["number"]
    for command, (method, expected, code) in zip(commands, LIFECYCLE, strict=True):
        assert ("-X POST" in command) == (method == "post"), command
        if method == "post":
            status, body = _run(command, served, served["read"], number=number)
            assert (status, body["code"]) == (403, "api_token.write_scope_required")
        status, body = _run(command, served, served["write"], number=number)
        if code is None:
            assert status == expected and "next_after" in body, body
        else:
            assert (status, body["code"]) == (expected, code), command
