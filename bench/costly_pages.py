"""The certificate page and the API while eight clients hammer the PDFs and the exports.

    .venv/bin/python bench/costly_pages.py --var-dir /tmp/bench_office100k \\
        [--database-url postgres://...] [--clients 8] [--duration 20] [--threads 4]

On a data set built by ``apcert demo-data``. apcert is served by ``apcert serve`` (granian,
one worker with ``--threads`` threads, pinned to ``--server-cpu``), with
``APCERT_TRUSTED_PROXY_HEADER=X-Real-IP`` so that each hammering client, which sends an
address of its own in that header, counts as a client of its own. One measuring client asks,
one request at a time, for a certificate page and then that certificate's API answer, over
distinct certificates; its p50/p95 are the figures. Three phases of ``--duration`` seconds:

- quiet: the measuring client alone (the baseline of the same run);
- hammered, limits off: ``--clients`` clients each asking without pause for certificate
  PDFs (three of every four requests) and whole-register exports (the fourth), read to the
  end, with every limit off (``APCERT_RATE_LIMIT_*=0``, ``APCERT_EXPORTS_AT_ONCE=0``);
- hammered, limits on: the same with the limits as shipped.

Prints the measuring client's p50/p95/max per phase, their ratio to the quiet phase, and
what the hammering clients were answered (status counts).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import _servers as s

HEADER = "X-Real-IP"


class Hammer(threading.Thread):
    """One client, from its own address, asking for PDFs and exports until told to stop."""

    def __init__(self, port: int, address: str, pdfs: list[str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.address, self.pdfs, self.stop = port, address, pdfs, stop
        self.answers: Counter[str] = Counter()

    def run(self) -> None:
        rng = random.Random(self.address)
        conn = http.client.HTTPConnection(s.HOST, self.port, timeout=120)
        n = 0
        while not self.stop.is_set():
            n += 1
            path = "/register/export.csv" if n % 4 == 0 else rng.choice(self.pdfs)
            what = "export" if n % 4 == 0 else "pdf"
            try:
                conn.request("GET", path, headers={HEADER: self.address})
                response = conn.getresponse()
                while response.read(65536):
                    if self.stop.is_set():
                        break
                self.answers[f"{what} {response.status}"] += 1
                if self.stop.is_set():
                    break
            except (http.client.HTTPException, OSError):
                self.answers[f"{what} error"] += 1
                conn.close()
                conn = http.client.HTTPConnection(s.HOST, self.port, timeout=120)
        conn.close()


@contextlib.contextmanager
def hammering(port: int, clients: int, pdfs: list[str]) -> Iterator[list[Hammer]]:
    stop = threading.Event()
    hammers = [Hammer(port, f"198.51.100.{i + 1}", pdfs, stop) for i in range(clients)]
    for hammer in hammers:
        hammer.start()
    try:
        yield hammers
    finally:
        stop.set()
        for hammer in hammers:
            hammer.join(timeout=130)


def measure(port: int, numbers: list[str], seconds: float) -> dict[str, list[float]]:
    """The certificate page and its API answer, one request at a time, for ``seconds``."""
    client = s.Client(port)
    times: dict[str, list[float]] = {"page": [], "api": []}
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    i = 0
    try:
        while time.monotonic() < deadline:
            number = quote(numbers[i % len(numbers)])
            i += 1
            for kind, path in (
                ("page", f"/certificates/{number}"),
                ("api", f"/api/public/certificates/{number}"),
            ):
                started = time.perf_counter()
                try:
                    spent, status, _ = client.get(path)
                except (http.client.HTTPException, OSError):
                    # no answer within the client's 30 s: counted as the time waited
                    spent, status = time.perf_counter() - started, 0
                statuses[status] += 1
                times[kind].append(spent)
    finally:
        client.close()
    if set(statuses) - {200, 0}:
        raise s.BenchError(f"the measured pages answered {dict(statuses)}, not all 200")
    if statuses[0]:
        s.progress(f"{statuses[0]} measured requests had no answer within 30 s")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    s.add_data_arguments(parser)
    s.add_server_arguments(parser)
    parser.add_argument("--clients", type=int, default=8, help="hammering clients (default 8)")
    parser.add_argument(
        "--skip-limits-off",
        action="store_true",
        help="leave out the phase with every limit off (the server is unusable in it)",
    )
    parser.set_defaults(threads=4, duration=20.0)
    args = parser.parse_args()
    s.install_cleanup()
    s.pin_this_process(args.client_cpu)
    s.progress("reading the data set")
    env = s.setup_django(args)
    from apcert.certificates.models import CertificateIssue

    certificates = s.count_public_certificates(args)
    numbers = s.sample_numbers(2000, 1)
    issues = dict(
        CertificateIssue.objects.filter(certificate__number__in=numbers[:400]).values_list(
            "certificate__number", "issue_number"
        )
    )
    pdfs = [f"/certificates/{quote(number)}/issues/{issue}.pdf" for number, issue in issues.items()]
    print(f"machine: {s.machine_description()}")
    print(f"data: {certificates:,} public certificates; {s.data_description(args)}")
    print(
        f"server: apcert serve, 1 worker, {args.threads} threads, core {args.server_cpu}; "
        f"{args.clients} hammering clients; {args.duration:.0f} s a phase after "
        f"{args.warmup:.0f} s of warm-up"
    )
    env["APCERT_TRUSTED_PROXY_HEADER"] = HEADER
    limits_off = {f"APCERT_RATE_LIMIT_{kind}": "0" for kind in s.PAGE_LIMITS}
    limits_off["APCERT_EXPORTS_AT_ONCE"] = "0"
    limits_off["APCERT_PDF_DRAWS_AT_ONCE"] = "0"
    shipped = {k: v for k, v in env.items() if k not in limits_off}
    results: list[tuple[str, dict[str, list[float]], Counter[str]]] = []
    with s.workdir() as logs:
        phases = [("limits off", {**shipped, **limits_off}), ("limits on", shipped)]
        for name, server_env in phases[1:] if args.skip_limits_off else phases:
            with s.start_app(args, server_env, logs, "/api/public/certificates/none") as server:
                s.progress(f"{name}: warm-up")
                measure(server.port, numbers[1000:], args.warmup)
                if name == "limits on":
                    s.progress("quiet: measuring")
                    results.append(
                        ("quiet", measure(server.port, numbers, args.duration), Counter())
                    )
                s.progress(f"hammered, {name}: measuring")
                with hammering(server.port, args.clients, pdfs) as hammers:
                    time.sleep(1.0)
                    times = measure(server.port, numbers[500:], args.duration)
                answers: Counter[str] = Counter()
                for hammer in hammers:
                    answers.update(hammer.answers)
                results.append((f"hammered, {name}", times, answers))
    report(results)


def report(results: list[tuple[str, dict[str, list[float]], Counter[str]]]) -> None:
    quiet = next(times for name, times, _ in results if name == "quiet")
    base = {kind: s.summary_ms(values)[1] for kind, values in quiet.items()}
    print()
    print(
        f"{'phase':<22} {'kind':<5} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
        f"{'p95 / quiet':>12}"
    )
    for name, times, answers in results:
        for kind, values in times.items():
            p50, p95, _ = s.summary_ms(values)
            print(
                f"{name:<22} {kind:<5} {len(values):>6} {p50:>8.2f} {p95:>8.2f} "
                f"{max(values) * 1000:>8.1f} {p95 / base[kind]:>12.2f}"
            )
        if answers:
            told = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items()))
            print(f"{'':<22} hammering clients were answered: {told}")
    print("target: the certificate page and the API under 20 ms p95 while hammered")


if __name__ == "__main__":
    s.run(main)
