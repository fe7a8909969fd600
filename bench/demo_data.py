"""How fast `apcert demo-data` loads, against a plain sqlite3 baseline in the same run.

    .venv/bin/python bench/demo_data.py [--certificates N] [--seed S]

Builds N certificates into a fresh SQLite database in a temporary folder (migrations and
reference data first), then inserts the same number of rows with bare ``executemany`` into
a one-table database on the same disk, and prints both rates and their ratio. The machine
is noisy: compare the ratio, not the seconds, between runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _apcert(var: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["APCERT_VAR_DIR"] = str(var)
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def baseline(path: Path, rows: int) -> float:
    """Rows per second of bare executemany in one transaction (6 columns, one index)."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c INTEGER, d TEXT, e TEXT)"
    )
    con.execute("CREATE INDEX t_a ON t (a)")
    data = ((i, f"a{i}", "b" * 20, i % 97, "2026-01-01", "x" * 40) for i in range(rows))
    started = time.perf_counter()
    with con:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", data)
    seconds = time.perf_counter() - started
    con.close()
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        _apcert(var, "migrate", "--noinput", "-v0")
        _apcert(var, "load-reference")
        started = time.perf_counter()
        out = _apcert(
            var,
            "demo-data",
            "--certificates",
            str(args.certificates),
            "--seed",
            str(args.seed),
            "--quiet",
        )
        seconds = time.perf_counter() - started
        match = re.search(r"(\d+) rows in", out)
        rows = int(match.group(1)) if match else 0
        rate = rows / seconds
        base = baseline(Path(tmp) / "baseline.sqlite3", rows)
    print(
        f"demo-data: {args.certificates} certificates, {rows} rows in {seconds:.1f} s "
        f"= {rate:,.0f} rows/s (whole command, start-up included)"
    )
    print(f"baseline:  bare sqlite3 executemany of {rows} rows = {base:,.0f} rows/s")
    print(f"ratio:     {rate / base:.2f} of the baseline")


if __name__ == "__main__":
    main()
