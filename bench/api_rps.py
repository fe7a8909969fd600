"""Requests per second of the certificate-by-number API, against baselines in the same run.

    .venv/bin/python bench/api_rps.py --var-dir /tmp/bench1m [--duration 20] [--rounds 3]

Starts, on loopback and pinned to one core (``--server-cpu``), apcert as ``apcert serve``
serves it (granian, WSGI, one worker) with the public API's rate limit off, a minimal
Starlette JSON endpoint on uvicorn (one worker) and a raw WSGI JSON endpoint on granian (one
worker). wrk, pinned to the other core (``--client-cpu``), then asks
``GET /api/public/certificates/<number>`` for a seeded spread of real certificate numbers, of
each server in turn, ``--rounds`` times, so that all three share the machine's noise. Prints
requests per second, latency p50/p99 under that load, and apcert's rate as a share of each
baseline's: the figure to compare between runs. The target is 25 % or more of the
Starlette baseline.

The data set comes from ``apcert demo-data`` (see docs/benchmarks.md, which also gives the
figures); a smaller one is refused unless ``--min-certificates`` says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
from urllib.parse import quote

import _servers as s

TARGET = 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    s.add_data_arguments(parser)
    s.add_server_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each server (default 3)")
    parser.add_argument(
        "--connections", type=int, default=16, help="wrk connections, kept alive (default 16)"
    )
    parser.add_argument(
        "--numbers", type=int, default=5000, help="distinct certificate numbers (default 5000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="picks the numbers (default 1)")
    args = parser.parse_args()
    s.install_cleanup()
    s.wrk_available()

    s.progress("reading the data set")
    env = s.setup_django(args)
    certificates = s.count_public_certificates(args)
    numbers = s.sample_numbers(args.numbers, args.seed)
    paths = [s.CERTIFICATE_PATH + quote(n, safe="") for n in numbers]
    fastpath = importlib.util.find_spec("apcert.api.fastpath") is not None
    print(f"machine: {s.machine_description()}")
    print(f"data: {certificates:,} public certificates; {s.data_description(args)}")
    print(
        f"load: wrk, 1 thread, {args.connections} connections, {len(paths):,} numbers, "
        f"{args.rounds} x {args.duration:.0f} s a server (after {args.warmup:.0f} s warm-up); "
        f"servers on core {args.server_cpu}, wrk on core {args.client_cpu}"
    )
    print(
        f"apcert: apcert serve --workers 1 --threads {args.threads}; "
        f"apcert.api.fastpath {'present' if fastpath else 'absent'}"
    )

    results: dict[str, list[s.WrkResult]] = {}
    with s.workdir() as tmp, contextlib.ExitStack() as stack:
        app = stack.enter_context(s.start_app(args, env, tmp, paths[0]))
        size = _check_app(app, numbers[0])
        print(f"apcert's answer for {numbers[0]}: {size:,} bytes of JSON")
        servers = {"apcert": app}
        for label, context in s.baselines(args, tmp, paths[0]):
            servers[label] = stack.enter_context(context)
        labels = list(servers)
        for round_ in range(1, args.rounds + 1):
            for label in labels:
                s.progress(f"round {round_}/{args.rounds}: {label}")
                if args.warmup > 0:
                    s.run_wrk(
                        args,
                        servers[label],
                        paths,
                        duration=args.warmup,
                        connections=args.connections,
                        workdir=tmp,
                    )
                result = s.run_wrk(
                    args,
                    servers[label],
                    paths,
                    duration=args.duration,
                    connections=args.connections,
                    workdir=tmp,
                )
                s.progress(
                    f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
                    f"p99 {result.p99_ms:.2f} ms"
                    + (f", errors {result.errors}" if result.errors else "")
                )
                results.setdefault(label, []).append(result)
        _check_app(app, numbers[-1])

    _report(results, labels)


def _check_app(app: s.Server, number: str) -> int:
    """The app answers the certificate, not a rate-limit refusal or an error; returns the size
    of the answer."""
    status, body = s.get(app.port, s.CERTIFICATE_PATH + quote(number, safe=""))
    if status == 429:
        raise s.BenchError(
            "apcert answered 429: the public API's rate limit is on although "
            "APCERT_API_RATE_LIMIT=0 was set"
        )
    if status != 200:
        raise s.BenchError(f"apcert answered {status} for {number!r}: {body[:300]!r}")
    if json.loads(body).get("number") != number:
        raise s.BenchError(f"apcert answered another certificate for {number!r}")
    return len(body)


def _report(results: dict[str, list[s.WrkResult]], labels: list[str]) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    print()
    print("GET /api/public/certificates/<number>, medians over the rounds")
    header = f"{'server':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  rounds (req/s)"
    print(header)
    print("-" * len(header))
    rps = {}
    for label in labels:
        runs = results[label]
        rps[label] = median([r.rps for r in runs])
        errors: dict[str, int] = {}
        for r in runs:
            for k, v in r.errors.items():
                errors[k] = errors.get(k, 0) + v
        print(
            f"{label:<46} {rps[label]:>9,.0f} {median([r.p50_ms for r in runs]):>8.2f} "
            f"{median([r.p99_ms for r in runs]):>8.2f}  "
            + " ".join(f"{r.rps:,.0f}" for r in runs)
            + (f"  errors: {errors}" if errors else "")
        )
    print()
    app = rps["apcert"]
    for label in labels[1:]:
        ratios = [a.rps / b.rps for a, b in zip(results["apcert"], results[label], strict=True)]
        print(
            f"apcert / {label}: {app / rps[label]:.3f} "
            f"(per round: {' '.join(f'{x:.3f}' for x in ratios)})"
        )
    for label in labels:
        if label.startswith("Starlette"):
            ratio = app / rps[label]
            verdict = "met" if ratio >= TARGET else "MISSED"
            print(f"target: apcert >= {TARGET:.0%} of {label}: {verdict} ({ratio:.1%})")
    if any(r.errors for runs in results.values() for r in runs):
        print("warning: some requests failed or were not 2xx (see errors above)", file=sys.stderr)


if __name__ == "__main__":
    s.run(main)
