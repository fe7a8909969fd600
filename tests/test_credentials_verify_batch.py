"""``apcert verify`` on many files or a directory: one line a file in the order given, a
summary, an exit code for the batch, the files checked by a pool of processes."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apcert.credentials import services
from apcert.credentials.management.commands.verify import Command
from tests.credentials_support import key_dir, verify_command
from tests.factories import World

pytestmark = pytest.mark.django_db

__all__ = ["key_dir"]


@pytest.fixture
def batch(world: World, key_dir: Path, tmp_path: Path) -> dict[str, Any]:
    """Three valid credentials of three certificates in a directory, and a trust bundle."""
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    folder = tmp_path / "credentials"
    (folder / "more").mkdir(parents=True)
    credentials = []
    for _ in range(3):
        certificate = world.granted()
        issue = certificate.issues.get(issue_number=certificate.current_issue_number)
        credentials.append(services.issue_credential(issue))
    for n, credential in enumerate(credentials):
        where = folder / "more" if n == 2 else folder
        (where / f"valid-{n}.json").write_text(json.dumps(credential))
    (folder / "notes.txt").write_text("not a credential, not looked at")
    bundle = tmp_path / "bundle.json"
    call_command("trust-bundle", "--out", str(bundle), stdout=StringIO())
    return {"folder": folder, "bundle": str(bundle), "credentials": credentials, "tmp": tmp_path}


def _lines(out: str) -> list[str]:
    return out.strip().splitlines()


def test_a_directory_of_valid_credentials_is_checked_file_by_file(batch: dict[str, Any]) -> None:
    folder = batch["folder"]

    code, out, err = verify_command(str(folder), "--trust-bundle", batch["bundle"], "--jobs", "2")

    lines = _lines(out)
    assert code == 0, err
    assert lines[:3] == [
        f"{folder / 'more' / 'valid-2.json'}: VALID",
        f"{folder / 'valid-0.json'}: VALID",
        f"{folder / 'valid-1.json'}: VALID",
    ]
    assert lines[3].startswith("verified 3 files in ")
    assert lines[3].endswith("(2 processes): 3 valid")
    assert len(lines) == 4


def test_each_file_gets_its_verdict_and_the_batch_the_worst(batch: dict[str, Any]) -> None:
    tmp, folder = batch["tmp"], batch["folder"]
    changed = json.loads(json.dumps(batch["credentials"][0]))
    changed["credentialSubject"]["issueNumber"] = 7
    stranger = json.loads(json.dumps(batch["credentials"][1]))
    stranger["issuer"] = {"id": "did:web:elsewhere.example:cbs:X"}
    (tmp / "changed.json").write_text(json.dumps(changed))
    (tmp / "stranger.json").write_text(json.dumps(stranger))
    (tmp / "junk.json").write_text("{not json")
    given = [
        tmp / "stranger.json",
        folder / "valid-0.json",
        tmp / "junk.json",
        tmp / "changed.json",
        tmp / "missing.json",
    ]

    code, out, _ = verify_command(*map(str, given), "--trust-bundle", batch["bundle"])

    lines = _lines(out)
    assert code == 1  # one is not valid: that outranks the unknown issuer and the unreadable
    assert [line.split(": ")[0] for line in lines[:5]] == [str(path) for path in given]
    assert lines[0].endswith(
        ": NOT VALID (UNKNOWN ISSUER) [issuer.unknown]: the issuer "
        "did:web:elsewhere.example:cbs:X is not a known certification body"
    )
    assert lines[1] == f"{given[1]}: VALID"
    assert lines[2].startswith(f"{given[2]}: UNREADABLE: not a JSON credential")
    assert lines[3].startswith(f"{given[3]}: NOT VALID [proof.signature_mismatch]: ")
    assert lines[4].startswith(f"{given[4]}: UNREADABLE: cannot read {given[4]}")
    assert lines[5].endswith(": 1 valid, 1 not valid, 1 not valid (unknown issuer), 2 unreadable")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [((), 0), (("stranger",), 2), (("junk",), 3), (("stranger", "junk"), 2)],
)
def test_the_exit_code_of_a_batch(
    batch: dict[str, Any], extra: tuple[str, ...], expected: int
) -> None:
    tmp = batch["tmp"]
    stranger = dict(batch["credentials"][0], issuer={"id": "did:web:elsewhere.example:cbs:X"})
    (tmp / "stranger.json").write_text(json.dumps(stranger))
    (tmp / "junk.json").write_text("[")
    files = [str(batch["folder"]), *(str(tmp / f"{name}.json") for name in extra)]

    assert verify_command(*files, "--trust-bundle", batch["bundle"])[0] == expected


def test_a_batch_without_a_bundle_checks_against_the_register(batch: dict[str, Any]) -> None:
    code, out, _ = verify_command(str(batch["folder"]), "--jobs", "2")
    assert code == 0
    assert _lines(out)[-1].endswith(": 3 valid")


def test_one_process_gives_the_same_lines(batch: dict[str, Any]) -> None:
    args = (str(batch["folder"]), "--trust-bundle", batch["bundle"])
    one = _lines(verify_command(*args, "--jobs", "1")[1])
    two = _lines(verify_command(*args, "--jobs", "2")[1])
    assert one[:-1] == two[:-1]
    assert "(1 process): 3 valid" in one[-1]


def test_an_empty_directory_and_a_bad_job_count_are_usage_errors(
    batch: dict[str, Any], tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = verify_command(str(empty), "--trust-bundle", batch["bundle"])
    assert (code, err.strip()) == (3, f"verify: no .json or .pdf file in {empty}")
    code, _, err = verify_command(str(batch["folder"]), "--jobs", "0")
    assert code == 3 and "--jobs" in err


def test_the_help_gives_the_exit_codes_of_a_batch() -> None:
    assert "0 if every file is valid" in Command.help
    assert "1 if any is not valid, else 2 if any" in Command.help
