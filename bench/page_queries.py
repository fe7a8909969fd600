"""Where a back-office page's time goes: each SQL query of the page, timed.

    .venv/bin/python bench/page_queries.py --var-dir /tmp/bench_office --only calendar
                                           [--repeat 15] [--warmup 2] [--width 150]

On a data set that ``bench/office_pages.py`` built (the same demo accounts and pages), each
page whose name holds ``--only`` is asked ``--warmup`` times, then ``--repeat`` times timed;
one more request records its SQL (with its parameters, as the database ran it). Then each
SELECT of it is run again ``--repeat`` times on its own, rows fetched (SQLite works while the
rows are read, so timing the execute alone would miss most of it). Prints, per page, the
request's median and each SELECT's median with the start of its statement. A query whose
time grows with the data set between two runs is the one to look at.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _servers as s
from office_pages import client_for, demo_accounts, pages_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_office"
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--only", required=True, help="the pages whose name holds this text")
    parser.add_argument("--role", default="", help="only the pages of this role")
    parser.add_argument("--width", type=int, default=150, help="characters of SQL shown")
    args = parser.parse_args()
    s.setup_django(args)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    accounts = demo_accounts()
    pages = [
        p
        for p in pages_of(accounts)
        if p.role != "baseline"
        and args.only.lower() in p.name.lower()
        and args.role.lower() in p.role.lower()
    ]
    for page in pages:
        client = client_for(page.role, accounts)
        get: Callable[[str], Any] = client.get
        for _ in range(args.warmup):
            get(page.path)
        totals = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            _ = get(page.path).content
            totals.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as captured:
            get(page.path)
        print(
            f"{page.role}: {page.name} ({page.path}): request p50 "
            f"{statistics.median(totals):.1f} ms; {len(captured)} queries"
        )
        in_sql = 0.0
        for i, query in enumerate(captured.captured_queries):
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                    cursor.fetchall()
                times.append((time.perf_counter() - started) * 1000)
            ms = statistics.median(times)
            in_sql += ms
            print(f"  {i + 1:3d} {ms:7.2f} ms  {' '.join(sql.split())[: args.width]}")
        print(f"  the SELECTs again, one by one: {in_sql:.1f} ms\n")


if __name__ == "__main__":
    main()
