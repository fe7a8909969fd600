"""``apcert audit verify`` on a large chain, beside its floor: the bare read of the same rows
and the SHA-256 of each, measured in the same run.

    .venv/bin/python bench/audit_verify.py --var-dir /tmp/bench_audit [--certificates 500000]
        [--baseline-src /path/to/other/checkout/src] [--rounds 2]

The data set is ``apcert demo-data --certificates N --seed 1`` under ``--var-dir`` (built
when missing: about two audit events a certificate), on SQLite, or the database of
``DATABASE_URL`` when set. Each measurement runs in a fresh process of its own, in turn:

- **floor**: every row of the audit table read with a plain cursor (all its columns) and the
  SHA-256 of the row's text taken: what no check of the chain can skip;
- **verify**: ``audit_chain_verify()`` as ``apcert audit verify`` runs it (one process a
  core past 50,000 events);
- **verify, one process**: the same with ``workers=1``;
- **baseline** (with ``--baseline-src``): that checkout's ``audit_chain_verify()``.

Cold is a measurement's first run in its process; warm the best of ``--rounds`` more in the
same process. Prints seconds, seconds per million events and the ratio to the floor. The
machine is shared and noisy: compare the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment(src: Path, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env["APCERT_VAR_DIR"] = str(var_dir)
    return env


def build_if_missing(var_dir: Path, certificates: int) -> None:
    marker = var_dir / "audit-bench.ready"
    if marker.exists():
        return
    var_dir.mkdir(parents=True, exist_ok=True)
    env = environment(ROOT / "src", var_dir)
    for args in (
        ["migrate", "--noinput"],
        ["load-reference"],
        ["demo-data", "--certificates", str(certificates), "--seed", "1", "--if-empty"],
    ):
        progress(f"apcert {' '.join(args)}")
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", *args],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=sys.stderr,
        )
    marker.write_text("ok\n")


def measure(kind: str, rounds: int) -> dict[str, object]:
    """In this process: one measurement, cold then warm."""
    import hashlib

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    django.setup()
    from django.db import connection

    from apcert.audit.models import AuditEvent
    from apcert.audit.selectors import audit_chain_verify

    events = AuditEvent.objects.count()

    def floor() -> None:
        # The columns every check reads, with no converter (times as the database's text),
        # in seq order, chunked; each row's fields joined and hashed.
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        when = "CAST(occurred_at AS TEXT)" if connection.vendor == "sqlite" else "occurred_at"
        json_ = "{}::text" if connection.vendor == "postgresql" else "{}"
        columns = ["seq", when, "actor_id", "actor_label", "action", "object_type", "object_id",
                   "object_repr", json_.format("before"), json_.format("after"), "reason",
                   "prev_hash", "hash"]  # fmt: skip
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY seq")
            sha256, sep = hashlib.sha256, "\x1f".join
            while rows := cursor.fetchmany(5000):
                for row in rows:
                    sha256(sep(map(str, row)).encode()).digest()

    def verify(**options: int) -> None:
        report = audit_chain_verify(**options)
        if not report.ok:
            raise SystemExit(f"the chain does not verify: {report.problem}")

    run = {
        "floor": floor,
        "verify": verify,
        "verify1": lambda: verify(workers=1),
        "baseline": verify,
    }[kind]
    times = []
    for _ in range(1 + rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"events": events, "cold": times[0], "warm": min(times[1:] or times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--certificates", type=int, default=500_000)
    parser.add_argument("--baseline-src", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.rounds)))
        return

    if "DATABASE_URL" not in os.environ:
        build_if_missing(args.var_dir, args.certificates)
    kinds = [("floor", ROOT / "src"), ("verify", ROOT / "src"), ("verify1", ROOT / "src")]
    if args.baseline_src:
        kinds.append(("baseline", args.baseline_src))
    results = {}
    for kind, src in kinds:
        progress(f"measuring {kind}")
        out = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, __file__, "--measure", kind, "--rounds", str(args.rounds),
             "--var-dir", str(args.var_dir)],
            env=environment(src, args.var_dir), check=True, capture_output=True, text=True,
        )  # fmt: skip
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    events = results["floor"]["events"]
    labels = {
        "floor": "bare read + SHA-256 of each row (floor, one process)",
        "verify": "audit_chain_verify (one process a core)",
        "verify1": "audit_chain_verify, one process",
        "baseline": f"baseline ({args.baseline_src})",
    }
    print(f"{events:,} events; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print("| what | cold s | cold s/M events | warm s | warm s/M events | x floor (warm) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    floor = results["floor"]["warm"]
    for kind, result in results.items():
        cold, warm = result["cold"], result["warm"]
        per_m = 1e6 / events
        print(
            f"| {labels[kind]} | {cold:.2f} | {cold * per_m:.2f} | {warm:.2f} | "
            f"{warm * per_m:.2f} | {warm / floor:.2f} |"
        )


if __name__ == "__main__":
    main()
