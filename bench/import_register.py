"""How fast `apcert import` checks and writes an existing register, at one or more sizes.

    .venv/bin/python bench/import_register.py [--certificates N [N ...]] [--format csv|xlsx]
        [--database-url postgres://.../NAME]

For each size: a fresh database (SQLite in a temporary folder; or the PostgreSQL database
named, dropped and made again), migrations and reference data, two CBs with their
acceptances and signing keys, and a generated file of N certificates (one to three scope
lines each, so about twice as many rows; most current, the others suspended, withdrawn,
cancelled or expired; a holder for every two certificates). Then, each timed as a whole
command: the dry run, the commit (check, write, search index, visit schedule, status lists,
signatures, all in one transaction), and the same file again (which writes nothing). The
machine is noisy: compare ratios, not seconds, between runs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from apcert.core.dates import add_months  # noqa: E402
from apcert.imports.columns import NAMES  # noqa: E402

SETUP = """
import datetime as dt, django
django.setup()
from apcert.accounts.models import User
from apcert.bodies.services import cb_acceptance_grant, cb_create
from apcert.credentials.services import signing_key_generate
from apcert.schemes.models import Programme
sec = User.objects.create_user(username="bench", password="x-Long-password-1", is_secretariat=True)
for code in ("BNA", "BNB"):
    cb = cb_create(actor=sec, code=code, name=f"Bench CB {code}", country="DE")
    for programme in ("AP", "AP-ESD"):
        cb_acceptance_grant(actor=sec, cb=cb, programme=Programme.objects.get(code=programme),
                            accepted_on=dt.date(2015, 1, 1))
    signing_key_generate(actor=sec, cb=cb)
"""

CATEGORIES = ["EPL", "EPL.NIAU", "PWB", "PWB.PLT", "PCBA", "PCBA.SMT", "ESD", "TIS", "DSC"]
STANDARDS = ["ISO 9001:2015", "IPC-6012:2023", "IPC-A-610:2024", "IEC 61340-5-1:2024"]
CITIES = [("Dresden", "DE"), ("Lyon", "FR"), ("Osaka", "JP"), ("Austin", "US"), ("Turin", "IT")]


def generate(n: int, today: dt.date, seed: int = 1) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    rows = []
    serials: dict[tuple[str, int], int] = {}
    for i in range(n):
        cb = "BNA" if i % 2 else "BNB"
        fate = rnd.random()
        if fate < 0.05:
            granted = today - dt.timedelta(days=rnd.randint(1200, 2500))
        else:
            granted = today - dt.timedelta(days=rnd.randint(30, 1000))
        expires = add_months(granted, 36) - dt.timedelta(days=1)
        status, since, surveilled = "current", "", ""
        later = (granted + dt.timedelta(days=rnd.randint(1, (today - granted).days))).isoformat()
        if fate < 0.05:
            status, since = "expired", (expires + dt.timedelta(days=1)).isoformat()
        elif fate < 0.13:
            status, since = "suspended", later
        elif fate < 0.18:
            status, since = "withdrawn", later
        elif fate < 0.20:
            status, since = "cancelled", later
        else:
            last = today - dt.timedelta(days=rnd.randint(10, 200))
            if last > granted:
                surveilled = last.isoformat()
        key = (cb, granted.year)
        serials[key] = serials.get(key, 0) + 1
        holder = i // 2
        city, country = CITIES[holder % len(CITIES)]
        cert = {
            "cb": cb,
            "number": f"IECQ-A {cb} {granted.year % 100:02d}.{serials[key]:04d}",
            "programmes": "AP" if rnd.random() < 0.8 else "AP; AP-ESD",
            "granted_on": granted.isoformat(),
            "expires_on": expires.isoformat(),
            "status": status,
            "status_since": since,
            "status_reason": "complaint" if status == "suspended" else "",
            "last_surveillance_on": surveilled,
            "holder_name": f"Bench Holder {holder} Ltd",
            "holder_country": country,
            "holder_registration_number": f"REG-{holder}",
            "holder_registration_authority": "Companies Registry",
            "holder_address": f"{holder} Industrial Road, {city}",
        }
        for line, category in enumerate(rnd.sample(CATEGORIES, rnd.randint(1, 3))):
            rows.append(
                {
                    **cert,
                    "category": category,
                    "site_name": f"Plant {line + 1}",
                    "site_city": city,
                    "site_country": country,
                    "site_address": "",
                    "site_published": "yes" if line < 2 else "no",
                    "standards": "; ".join(rnd.sample(STANDARDS, rnd.randint(1, 2))),
                    "wording": f"{category} processes of lot {i} at plant {line + 1}",
                }
            )
    return rows


def write_file(rows: list[dict[str, str]], path: Path, file_format: str) -> None:
    if file_format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("certificates")
        sheet.append(list(NAMES))
        for r in rows:
            sheet.append([r.get(c, "") for c in NAMES])
        book.save(path)
        return
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(NAMES))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _env(var: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["APCERT_VAR_DIR"] = str(var)
    env["DJANGO_SETTINGS_MODULE"] = "apcert.settings"
    env["PYTHONPATH"] = str(ROOT / "src")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _run(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(args, env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return time.monotonic() - started, done.stderr


def _phases(stderr: str) -> str:
    """The command's own line of seconds by phase."""
    found = re.search(r"seconds by phase: (.*)", stderr)
    return found.group(1) if found else ""


def baseline(path: Path, var: Path) -> float:
    """Reading the same CSV with the csv module and writing each row into a one-table
    SQLite database with executemany in one transaction, on the same disk: the floor of
    reading and storing the file, in the same run."""
    started = time.monotonic()
    with path.open(newline="", encoding="utf-8") as source:
        rows = [tuple(r.values()) for r in csv.DictReader(source)]
    db = sqlite3.connect(var / "baseline.sqlite3")
    db.execute(f"CREATE TABLE r ({', '.join(f'c{i} TEXT' for i in range(len(NAMES)))})")
    with db:
        db.executemany(f"INSERT INTO r VALUES ({', '.join('?' * len(NAMES))})", rows)
    db.close()
    return time.monotonic() - started


def _fresh_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def bench(n: int, file_format: str, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        env = _env(var, database_url)
        if database_url:
            _fresh_postgres(database_url)
        apcert = (sys.executable, "-m", "apcert")
        _run(env, *apcert, "migrate", "--noinput")
        _run(env, *apcert, "load-reference")
        _run(env, sys.executable, "-c", SETUP)
        rows = generate(n, dt.date.today())
        path = var / f"register.{file_format}"
        write_file(rows, path, file_format)
        command = (*apcert, "import", str(path), "--all", "--by", "bench", "--quiet")
        figures: dict[str, Any] = {"rows": len(rows), "mb": path.stat().st_size / 1e6}
        figures["dry run"], _ = _run(env, *command, "--dry-run")
        figures["commit"], err = _run(env, *command)
        figures["phases"] = _phases(err)
        figures["again"], _ = _run(env, *command)
        figures["baseline"] = baseline(path, var) if file_format == "csv" else float("nan")
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, nargs="+", default=[10_000])
    parser.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    parser.add_argument("--database-url", help="a PostgreSQL database to drop and make again")
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"apcert import of a generated register ({args.format}, {backend})")
    print(f"{'certificates':>12} {'rows':>8} {'MB':>6} {'dry run s':>10} {'commit s':>9} "
          f"{'cert/s':>7} {'again s':>8} {'baseline s':>11} {'commit/baseline':>16}")  # fmt: skip
    for n in args.certificates:
        f = bench(n, args.format, args.database_url)
        print(
            f"{n:>12,} {f['rows']:>8,} {f['mb']:>6.1f} {f['dry run']:>10.1f} "
            f"{f['commit']:>9.1f} {n / f['commit']:>7,.0f} {f['again']:>8.1f} "
            f"{f['baseline']:>11.2f} {f['commit'] / f['baseline']:>16.0f}",
            flush=True,
        )
        print(f"{'':>12} commit by phase (s): {f['phases']}", flush=True)


if __name__ == "__main__":
    main()
