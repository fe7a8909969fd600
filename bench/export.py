"""The register's bulk export beside its floor: the same documents read raw.

    .venv/bin/python bench/export.py --var-dir /tmp/bench_office100k [--rounds 3]

On a data set built by ``apcert demo-data``, in this process: ``--rounds`` times each, in
turn so that all share the machine's noise,

- floor: every stored public document read straight from the search index with one SQL
  statement through Django's connection (no ORM), written to a file, one a line;
- JSON Lines: ``apcert.register.exports.jsonl_parts`` written to a file, as
  ``apcert export --format jsonl`` writes it;
- CSV: ``csv_parts`` the same way.

Prints each one's best and median seconds, certificates per second and its ratio to the
floor (the target for JSON Lines: within 2 times the floor).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _servers as s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_office"
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    s.setup_django(args)
    from django.db import connection

    from apcert.register.exports import csv_parts, jsonl_parts
    from apcert.register.models import SearchEntry

    out = Path(tempfile.mkdtemp(prefix="bench-export-")) / "export"

    def floor() -> int:
        n = 0
        with out.open("w", encoding="utf-8") as fh, connection.cursor() as cursor:
            cursor.execute(
                f"SELECT document FROM {SearchEntry._meta.db_table} ORDER BY certificate_id"
            )
            while rows := cursor.fetchmany(2000):
                fh.write("".join(row[0] + "\n" for row in rows))
                n += len(rows)
        return n

    def written(parts: Callable[[], object]) -> Callable[[], int]:
        def run() -> int:
            n = 0
            with out.open("w", encoding="utf-8") as fh:
                for count, text in parts():  # type: ignore[attr-defined]
                    fh.write(text)
                    n += count
            return n

        return run

    runs = {"floor: stored documents, raw": floor, "JSON Lines export": written(jsonl_parts)}
    runs["CSV export"] = written(csv_parts)
    times: dict[str, list[float]] = {name: [] for name in runs}
    counts: dict[str, int] = {}
    for round_number in range(args.rounds):
        s.progress(f"round {round_number + 1} of {args.rounds}")
        for name, run in runs.items():
            started = time.perf_counter()
            counts[name] = run()
            times[name].append(time.perf_counter() - started)
    out.unlink(missing_ok=True)
    base = min(times["floor: stored documents, raw"])
    print(f"Register export, in-process: {s.data_description(args)}; {args.rounds} rounds")
    print(f"{'what':<32} {'rows':>9} {'best s':>8} {'median s':>9} {'rows/s':>9} {'x floor':>8}")
    for name, values in times.items():
        best = min(values)
        print(
            f"{name:<32} {counts[name]:>9,} {best:8.2f} {statistics.median(values):9.2f} "
            f"{counts[name] / best:9,.0f} {best / base:8.2f}"
        )


if __name__ == "__main__":
    main()
