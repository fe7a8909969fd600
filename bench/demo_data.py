"""How fast, and in how much memory, `apcert demo-data` loads, at one or more sizes, against a
plain sqlite3 baseline in the same run; and what each kilobyte of the file per certificate is.

    .venv/bin/python bench/demo_data.py [--certificates N [N ...]] [--seed S] [--keep DIR]

For each size: a fresh SQLite database in a temporary folder (migrations and reference data
first), then the load, timed as a whole command and phase by phase (as the command prints
them). Memory is the peak of the proportional set size (PSS) summed over the loading process
and the processes it starts, sampled twice a second: a forked writer shares pages with its
parent, which a sum of resident sizes would count twice. The baseline is bare
``executemany`` of the same number of rows into a one-table database on the same disk. The
machine is noisy: compare ratios, not seconds, between runs. ``--keep DIR`` keeps the
largest database there (for the page benchmarks).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def _env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["APCERT_VAR_DIR"] = str(var)
    return env


def _apcert(var: Path, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        env=_env(var),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _pss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


class PeakMemory:
    """The peak of the summed PSS of a process tree, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            total = sum(_pss_kb(p) for p in _tree(self.pid))
            self.peak_kb = max(self.peak_kb, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


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


def file_breakdown(database: Path, certificates: int, top: int = 14) -> list[tuple[str, float]]:
    """Bytes per certificate of each table and index (with SQLite's dbstat), largest first;
    the rest summed as one line."""
    con = sqlite3.connect(database)
    try:
        rows = con.execute(
            "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    except sqlite3.OperationalError:  # a SQLite built without dbstat
        return []
    finally:
        con.close()
    lines = [(name, size / certificates) for name, size in rows[:top]]
    rest = sum(size for _, size in rows[top:])
    lines.append((f"{len(rows) - top} others", rest / certificates))
    return lines


@dataclass
class Load:
    n: int
    var: Path
    seconds: float
    rows: int
    phases: str
    peak_mb: float
    file_bytes: int
    breakdown: list[tuple[str, float]] = field(default_factory=list)
    base: float = 0.0


def load(n: int, seed: int, tmp: Path) -> Load:
    var = tmp / f"var{n}"
    _apcert(var, "migrate", "--noinput", "-v0")
    _apcert(var, "load-reference")
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", "demo-data", "--certificates", str(n),
         "--seed", str(seed), "--quiet"],
        env=_env(var),
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    memory = PeakMemory(process.pid)
    out, _ = process.communicate()
    memory.stop()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"demo-data failed (exit {process.returncode})")
    rows_match = re.search(r"(\d+) rows in", out)
    phases_match = re.search(r"phases: (.*)", out)
    database = var / "apcert.sqlite3"
    return Load(
        n=n,
        var=var,
        seconds=seconds,
        rows=int(rows_match.group(1)) if rows_match else 0,
        phases=phases_match.group(1) if phases_match else "",
        peak_mb=memory.peak_kb / 1024,
        file_bytes=database.stat().st_size,
        breakdown=file_breakdown(database, n),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, nargs="+", default=[20_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the largest database in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        results = []
        for n in sorted(args.certificates):
            r = load(n, args.seed, tmp)
            r.base = baseline(tmp / f"baseline{n}.sqlite3", r.rows)
            results.append(r)
            rate = r.rows / r.seconds
            print(
                f"{n:>9,} certificates: {r.seconds:7.1f} s whole command, {r.rows:,} rows = "
                f"{rate:,.0f} rows/s, {rate / r.base:.2f} of bare executemany "
                f"({r.base:,.0f} rows/s); peak memory {r.peak_mb:,.0f} MB (PSS, all "
                f"processes); file {r.file_bytes / 2**20:,.0f} MiB",
                flush=True,
            )
            print(f"           phases: {r.phases}", flush=True)
        first = results[0]
        if len(results) > 1:
            print("\ngrowth (per 1,000 certificates, against the smallest size):")
            first_per = first.seconds / first.n * 1000
            for r in results:
                per = r.seconds / r.n * 1000
                print(
                    f"{r.n:>9,}: {per:6.2f} s ({per / first_per:.2f}x), "
                    f"{r.peak_mb / r.n * 1000:6.1f} MB peak"
                )
        last = results[-1]
        print(f"\nthe file at {last.n:,} certificates, bytes per certificate:")
        for table, per_certificate in last.breakdown:
            print(f"  {per_certificate:8,.0f}  {table}")
        print(f"  {last.file_bytes / last.n:8,.0f}  the whole file")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in last.var.iterdir():
                shutil.move(str(path), args.keep / path.name)
            print(f"kept in {args.keep}")


if __name__ == "__main__":
    main()
