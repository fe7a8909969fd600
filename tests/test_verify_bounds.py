"""JSON nested deeper, or files larger, than any credential: ``/verify`` (pasted, uploaded,
or embedded in a PDF) and ``apcert verify`` refuse them in plain words, never with a
traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pypdf import PdfWriter

from apcert.certificates.models import CertificateIssue
from apcert.core import bounded_json
from apcert.credentials.management.commands.verify import MAX_FILE_BYTES
from apcert.documents import DocumentError, render_certificate_pdf, verification_url
from apcert.documents.attachments import MAX_CREDENTIAL_BYTES
from apcert.documents.errors import ATTACHMENT_TOO_LARGE, NOT_A_CREDENTIAL, TOO_DEEP
from tests.credentials_support import verify_command
from tests.factories import World

#: Far deeper than Python's parser can go on its own (it ends in a RecursionError).
ABYSS = b"[" * 200_000 + b"]" * 200_000


def nested(levels: int) -> bytes:
    """A JSON object ``levels`` deep, a credential's keys at its top."""
    inner: Any = "bottom"
    for _ in range(levels - 1):
        inner = {"x": inner}
    return json.dumps({"@context": [], "type": ["VerifiableCredential"], "x": inner}).encode()


# --- the bounded reader --------------------------------------------------------------------


def test_json_is_read_up_to_the_depth_limit_and_refused_past_it() -> None:
    assert bounded_json.loads(b"[" * 64 + b"]" * 64) is not None
    assert bounded_json.loads(nested(bounded_json.MAX_DEPTH))["@context"] == []
    for deep in (b"[" * 65 + b"]" * 65, nested(bounded_json.MAX_DEPTH + 1), ABYSS):
        with pytest.raises(bounded_json.TooDeep, match="nested more than 64 levels deep"):
            bounded_json.loads(deep)
    # A mixture of arrays and objects counts every level
    assert bounded_json.depth_exceeds([{"a": [{"b": []}]}], 4)
    assert not bounded_json.depth_exceeds([{"a": [{"b": []}]}], 5)
    with pytest.raises(json.JSONDecodeError):
        bounded_json.loads(b"{not json")


# --- the page ------------------------------------------------------------------------------


def _answer(response: Any, status: int) -> Any:
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    return response.context["credential_answer"]


@pytest.mark.django_db
@pytest.mark.parametrize("deep", [ABYSS, nested(65)], ids=["abyss", "65-levels"])
def test_the_page_refuses_deep_json_pasted_or_uploaded(client: Client, deep: bytes) -> None:
    pasted = client.post("/verify", {"credential": deep.decode()})
    uploaded = client.post("/verify", {"file": SimpleUploadedFile("deep.json", deep)})
    for response in (pasted, uploaded):
        answer = _answer(response, 400)
        assert (answer.ok, answer.code) == (False, TOO_DEEP)
        html = " ".join(response.content.decode().split())
        assert "its JSON is nested more than 64 levels deep" in html
        assert "Traceback" not in html and "RecursionError" not in html
    # and 64 levels is read (and answered as what it is: no credential)
    shallow = client.post("/verify", {"credential": nested(64).decode()})
    assert _answer(shallow, 200).code != TOO_DEEP


def _bare_pdf(world: World) -> bytes:
    """A genuine certificate PDF, made without a credential."""
    cert = world.granted()
    issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert, issue_number=1
    )
    return render_certificate_pdf(
        issue, credential=None, verify_url=verification_url(cert.number, 1)
    )


def _with_attachment(pdf: bytes, data: bytes) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.add_attachment("forged.vc.json", data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_page_refuses_a_pdf_whose_attachment_is_deep_or_huge(
    world: World, client: Client
) -> None:
    bare = _bare_pdf(world)
    deep = _with_attachment(bare, ABYSS)
    response = client.post("/verify", {"file": SimpleUploadedFile("c.pdf", deep)})
    answer = _answer(response, 400)
    assert answer.code == TOO_DEEP
    assert (
        "'forged.vc.json' is not a credential: it is nested more than 64 levels"
        in (answer.details[0])
    )

    huge = b'{"x":"' + b"a" * MAX_CREDENTIAL_BYTES + b'"}'
    response = client.post(
        "/verify", {"file": SimpleUploadedFile("c.pdf", _with_attachment(bare, huge))}
    )
    answer = _answer(response, 400)
    assert answer.code == ATTACHMENT_TOO_LARGE
    assert "is larger than 1 MB, and a credential is a few KB" in answer.details[0]


# --- apcert verify -------------------------------------------------------------------------


def _refused(tmp_path: Path, name: str, data: bytes, *args: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = verify_command(str(path), *args)
    assert (code, out) == (3, "")
    assert err.count("\n") <= 1 and "Traceback" not in err
    return err


@pytest.mark.django_db
def test_the_command_refuses_deep_or_huge_files_with_exit_3(world: World, tmp_path: Path) -> None:
    err = _refused(tmp_path, "deep.json", ABYSS)
    assert err.strip() == "verify: not a credential: it is nested more than 64 levels deep"
    assert "nested more than 64" in _refused(tmp_path, "deep65.json", nested(65))
    big = b"{" + b" " * MAX_FILE_BYTES + b"}"
    assert "is larger than 2 MB" in _refused(tmp_path, "big.json", big)
    err = _refused(tmp_path, "c.pdf", _with_attachment(_bare_pdf(world), ABYSS))
    assert "'forged.vc.json' is not a credential: it is nested more than 64 levels" in err
    # a trust bundle too
    fine = tmp_path / "fine.json"
    fine.write_bytes(nested(3))
    code, _, err = verify_command(str(fine), "--trust-bundle", str(tmp_path / "deep.json"))
    assert code == 3 and "is not a usable JSON: it is nested more than 64 levels deep" in err
    # a batch names the file and goes on
    code, out, _ = verify_command(
        str(tmp_path / "deep.json"), str(tmp_path / "big.json"), "--jobs", "1"
    )
    assert code == 3
    assert f"{tmp_path / 'deep.json'}: UNREADABLE: not a credential: it is nested" in out


def test_the_command_in_a_fresh_process_exits_3_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_bytes(ABYSS)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        "APCERT_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "apcert", "verify", str(tmp_path / "deep.json"), "--skip-checks"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.stderr
    assert run.stderr == "verify: not a credential: it is nested more than 64 levels deep\n"
    assert run.stdout == ""


def test_not_json_stays_not_a_credential() -> None:
    # (the page's older answer for text that is not JSON is unchanged)
    from apcert.register.verification import read_credential

    with pytest.raises(DocumentError) as caught:
        read_credential(b"hello")
    assert caught.value.code == NOT_A_CREDENTIAL
