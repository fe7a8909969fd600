"""The time of a certificate status change (a suspension, then its restoration), through
the services, beside another version of the code measured in the same run.

    .venv/bin/python bench/status_change.py [--certificates 10000] [--count 100]
        [--baseline-src /path/to/other/checkout/src] [--rounds 2] [--start 0]
        [--var-dir /tmp/bench_status]

Each version (this checkout's ``src``, and ``--baseline-src`` when given) gets its own data
set, built by that version's own ``apcert demo-data --certificates N --seed 1`` under
``--var-dir/<version>`` when missing (progress on stderr). Then the versions are measured in
turn, ``--rounds`` times each, alternating, each measurement in a fresh process of its own:
``--count`` distinct current certificates, each changed once (cold: no certificate is asked
twice in a run, nor across runs), and for each the wall time of ``certificate_suspend`` and
of ``certificate_restore``, decided today by a decision maker of the certificate's CB, each
committing its own transaction (SQLite under ``APCERT_VAR_DIR``, or ``DATABASE_URL``).

Prints p50/p95/mean ms per version and action, and the ratio of this checkout to the
baseline. The machine is noisy: compare ratios measured in the same run, not milliseconds
across runs. Writes to the data sets (the suspensions and restorations stay recorded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def environment(src: Path, var_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env["APCERT_VAR_DIR"] = str(var_dir)
    env.pop("DATABASE_URL", None)
    return env


def build_if_missing(src: Path, var_dir: Path, certificates: int) -> None:
    marker = var_dir / "status-bench.ready"
    if marker.exists():
        return
    var_dir.mkdir(parents=True, exist_ok=True)
    env = environment(src, var_dir)
    for args in (
        ["migrate", "--noinput"],
        ["load-reference"],
        ["demo-data", "--certificates", str(certificates), "--seed", "1"],
    ):
        progress(f"{var_dir.name}: apcert {' '.join(args)}")
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", *args], env=env, check=True, cwd=ROOT
        )
    marker.write_text("ok\n")


def measure(count: int, offset: int) -> dict[str, list[float]]:
    """In this process: suspend then restore ``count`` current certificates, from the
    ``offset``-th in number order, each timed."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    django.setup()
    from django.utils import timezone

    from apcert.bodies.models import CBStaff
    from apcert.certificates.models import Certificate
    from apcert.certificates.services import certificate_restore, certificate_suspend

    today = timezone.localdate()
    candidates = list(
        Certificate.objects.filter(
            status="current",
            status_since__lte=today,
            expires_on__gt=today + dt.timedelta(days=60),
            issues__issued_on__lte=today,
        )
        .distinct()
        .order_by("number")[offset : offset + count]
    )
    if len(candidates) < count:
        raise SystemExit(f"error: only {len(candidates)} current certificates from {offset}")
    makers = {
        s.cb_id: s.user
        for s in CBStaff.objects.filter(role="decision_maker", active=True).select_related("user")
    }
    times: dict[str, list[float]] = {"suspend": [], "restore": []}
    for cert in candidates:
        actor = makers[cert.cb_id]
        start = time.perf_counter()
        certificate_suspend(
            actor=actor,
            certificate=cert,
            reason_category="unpaid_fees",
            reason="benchmark",
            decided_on=today,
        )
        middle = time.perf_counter()
        certificate_restore(actor=actor, certificate=cert, reason="benchmark", decided_on=today)
        end = time.perf_counter()
        times["suspend"].append((middle - start) * 1000)
        times["restore"].append((end - middle) * 1000)
    return times


def summary(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, statistics.fmean(ordered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=10_000)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--start",
        type=int,
        default=0,
        help="the first certificate (in number order) to change; give a new one per run so "
        "that no certificate is changed twice across runs",
    )
    parser.add_argument("--baseline-src", type=Path)
    parser.add_argument(
        "--var-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_status"
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.count, args.offset)))
        return

    versions = {"this": ROOT / "src"}
    if args.baseline_src is not None:
        versions["baseline"] = args.baseline_src.resolve()
    for name, src in versions.items():
        build_if_missing(src, args.var_dir / name, args.certificates)
    results: dict[str, dict[str, list[float]]] = {
        name: {"suspend": [], "restore": []} for name in versions
    }
    for round_ in range(args.rounds):
        for name, src in versions.items():
            progress(f"round {round_ + 1}: {name}")
            out = subprocess.run(  # noqa: S603 - our own interpreter and script
                [
                    sys.executable,
                    __file__,
                    "--measure",
                    "--count",
                    str(args.count),
                    "--offset",
                    str(args.start + round_ * args.count),
                ],
                env=environment(src, args.var_dir / name),
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            for action, values in json.loads(out.stdout.strip().splitlines()[-1]).items():
                results[name][action].extend(values)
    print(f"{args.certificates:,} certificates, {args.count} distinct each round, {args.rounds}")
    print(f"{'version':<10} {'action':<8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, actions in results.items():
        for action, values in actions.items():
            p50, p95, mean = summary(values)
            print(f"{name:<10} {action:<8} {p50:8.2f} {p95:8.2f} {mean:8.2f}")
    if "baseline" in results:
        for action in ("suspend", "restore"):
            this = summary(results["this"][action])
            base = summary(results["baseline"][action])
            print(
                f"ratio this/baseline, {action}: p50 {this[0] / base[0]:.2f}, "
                f"mean {this[2] / base[2]:.2f}"
            )


if __name__ == "__main__":
    main()
