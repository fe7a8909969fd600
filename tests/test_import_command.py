"""``apcert import`` and ``apcert import-template``: the report row by row, the exit codes,
the template; and a commit killed outright (SIGKILL) half-way leaves nothing written."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apcert.certificates.models import Certificate
from apcert.imports import errors
from apcert.imports.columns import NAMES
from apcert.imports.reader import read_sheet
from tests.factories import World
from tests.import_support import csv_file, row

ROOT = Path(__file__).resolve().parent.parent


def run_command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_the_command_reports_row_by_row_and_writes_nothing_while_a_problem_remains(
    world: World, tmp_path: Path
) -> None:
    cb = world.team.cb.code
    path = tmp_path / "register.csv"
    path.write_bytes(csv_file([row(cb, 1), row(cb, 2, status="lapsed")]))
    report = tmp_path / "report.csv"

    code, out, err = run_command(
        str(path), "--all", "--by", world.secretariat.username, "--quiet", "--report", str(report)
    )

    assert code == 1
    lines = list(csv.reader(io.StringIO(out)))
    assert lines[0] == ["row", "column", "code", "message"]
    assert [line[:3] for line in lines[1:]] == [["3", "status", errors.IMPORT_STATUS_UNKNOWN]]
    assert list(csv.reader(report.open())) == lines
    assert "nothing written" in err
    assert not Certificate.objects.exists()
    # a dry run of the corrected file: no problem, nothing written
    path.write_bytes(csv_file([row(cb, 1), row(cb, 2)]))
    code, _, err = run_command(
        str(path), "--cb", cb, "--by", world.secretariat.username, "--dry-run", "--quiet"
    )
    assert code == 0 and "2 new" in err and "dry run" in err
    assert not Certificate.objects.exists()
    code, _, err = run_command(str(path), "--cb", cb, "--by", world.team.manager.username)
    assert code == 0 and "written" in err
    assert Certificate.objects.count() == 2
    code, _, err = run_command(str(path), "--cb", cb, "--by", world.team.manager.username)
    assert code == 0 and "2 unchanged; nothing to write" in err


@pytest.mark.django_db
def test_the_command_refuses_an_unknown_user_or_cb_and_a_manager_for_every_cb(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(csv_file([row(world.team.cb.code, 1)]))
    with pytest.raises(CommandError, match="no account") as refused:
        call_command("import", str(path), "--all", "--by", "nobody")
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="no certification body"):
        call_command("import", str(path), "--cb", "XX", "--by", world.secretariat.username)
    with pytest.raises(CommandError, match=r"permission\.secretariat_required") as refused:
        call_command("import", str(path), "--all", "--by", world.team.manager.username)
    assert refused.value.returncode == 2


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_template_has_every_column_and_an_example_row_that_reads_back(
    tmp_path: Path, file_format: str
) -> None:
    path = tmp_path / f"template.{file_format}"
    call_command("import-template", "--format", file_format, "-o", str(path), stdout=io.StringIO())
    sheet = read_sheet(path.read_bytes(), file_format)
    assert tuple(sheet.header) == NAMES
    (number, cells), *rest = list(sheet.rows)
    assert rest == [] and number == 2
    assert cells["number"] == "IECQ-A TUV 19.0042" and cells["category"] == "EPL.NIAU"


SETUP = """
import datetime as dt, json, os, sys, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load-reference", stdout=open(os.devnull, "w"))
from apcert.accounts.models import User
from apcert.bodies.services import cb_acceptance_grant, cb_create
from apcert.credentials.services import signing_key_generate
from apcert.schemes.models import Programme
sec = User.objects.create_user(username="sec", password="x-Long-password-1", is_secretariat=True)
cb = cb_create(actor=sec, code="KIL", name="Kill Test CB", country="DE")
cb_acceptance_grant(actor=sec, cb=cb, programme=Programme.objects.get(code="AP"),
                    accepted_on=dt.date(2020, 1, 1))
signing_key_generate(actor=sec, cb=cb)
sys.path.insert(0, sys.argv[1])
from tests.import_support import csv_file, row
rows = [row("KIL", n, last_surveillance_on="2026-03-01") for n in range(1, int(sys.argv[3]) + 1)]
open(sys.argv[2], "wb").write(csv_file(rows))
"""

COUNT = """
import json, django
django.setup()
from apcert.audit.models import AuditEvent
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.applications.models import Application
from apcert.imports.models import ImportBatch, ImportedCertificate
from apcert.organizations.models import Organization
from apcert.register.models import SearchEntry
events = AuditEvent.objects.filter(action__startswith="certificate.import").count()
print(json.dumps({m.__name__: m.objects.count() for m in (
    Certificate, CertificateIssue, Application, Organization, ImportBatch, ImportedCertificate,
    SearchEntry)} | {"events": events}))
"""

#: The progress bar of the commit's writing, once it has written a batch.
WRITING = re.compile(r"write new:\s+\d+%\|[^|]*\|\s*([1-9]\d*)/")


def _env(var_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apcert.settings",
        "APCERT_VAR_DIR": str(var_dir),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("DATABASE_URL", None)
    return env


def _script(script: str, var_dir: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script, *args],
        env=_env(var_dir), capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return done.stdout


@pytest.mark.own_sqlite
@pytest.mark.slow
def test_a_commit_killed_outright_leaves_nothing_half_written(tmp_path: Path) -> None:
    # Given a SQLite database of its own, a CB with a key and a file of 5,000 certificates
    data = tmp_path / "register.csv"
    _script(SETUP, tmp_path, str(ROOT), str(data), "5000")
    before = json.loads(_script(COUNT, tmp_path))
    # When `apcert import` is killed with SIGKILL once its commit has written a batch
    command = subprocess.Popen(  # noqa: S603 - this interpreter, the apcert entry point
        [sys.executable, "-m", "apcert", "import", str(data), "--all", "--by", "sec"],
        env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert command.stderr is not None
    seen = b""
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            chunk = os.read(command.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            text = seen.decode(errors="replace")
            if "commit started" in text and WRITING.search(text):
                command.send_signal(signal.SIGKILL)
                break
        command.wait(timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
    text = seen.decode(errors="replace")
    assert command.returncode == -signal.SIGKILL, text[-2000:]
    # Then the database holds nothing of the import: no certificate, no holder, no event
    after = json.loads(_script(COUNT, tmp_path))
    assert after == before
    assert after["Certificate"] == 0
    # and the same import run to its end writes every certificate
    subprocess.run(  # noqa: S603 - this interpreter, the apcert entry point
        [sys.executable, "-m", "apcert", "import", str(data), "--all", "--by", "sec", "--quiet"],
        env=_env(tmp_path), capture_output=True, timeout=600, check=True,
    )  # fmt: skip
    done = json.loads(_script(COUNT, tmp_path))
    assert done["Certificate"] == done["ImportedCertificate"] == done["SearchEntry"] == 5000
    assert done["events"] == 5000
