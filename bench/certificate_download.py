"""Certificate PDF downloads from the register, with the database: drawn, then kept.

    .venv/bin/python bench/certificate_download.py --var-dir /tmp/bench_office100k [--count 40]

On a data set built by ``apcert demo-data`` (``bench/office_pages.py`` builds one). In this
process with ``django.test.Client`` (the whole Django stack, no HTTP server), for ``--count``
distinct public certificates picked across the register:

- cold: each one's PDF downloaded once, with the kept PDFs deleted first (each
  download draws its PDF and keeps it);
- kept: the same downloads again, each once (each reads the kept PDF from the database);
- baseline: each certificate's public page, asked the same way in the same run.

Prints p50/p95/max ms of each and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import _servers as s


def figures(times: list[float]) -> tuple[float, float, float]:
    times = sorted(times)
    return (
        statistics.median(times),
        times[max(0, round(len(times) * 0.95) - 1)],
        times[-1],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--var-dir", type=Path, default=Path(tempfile.gettempdir()) / "bench_office"
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument("--count", type=int, default=40, help="distinct certificates")
    args = parser.parse_args()
    s.setup_django(args)
    from django.test import Client

    from apcert.certificates.choices import PUBLIC_STATUSES
    from apcert.certificates.models import Certificate
    from apcert.register.models import KeptCertificatePdf

    total = Certificate.objects.filter(status__in=PUBLIC_STATUSES).count()
    step = max(total // args.count, 1)
    numbers = list(
        Certificate.objects.filter(status__in=PUBLIC_STATUSES)
        .order_by("pk")
        .values_list("number", flat=True)[::step][: args.count]
    )
    client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="127.0.0.1")
    client.get("/certificates/" + quote(numbers[0]))  # load the templates and fonts once
    client.get(f"/certificates/{quote(numbers[0])}/issues/1.pdf")
    KeptCertificatePdf.objects.all().delete()  # every PDF below is drawn cold first

    def timed(paths: list[str]) -> list[float]:
        out = []
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            out.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise s.BenchError(f"{path} answered {response.status_code}")
        return out

    pages = timed(["/certificates/" + quote(n) for n in numbers])
    cold = timed([f"/certificates/{quote(n)}/issues/1.pdf" for n in numbers])
    kept = timed([f"/certificates/{quote(n)}/issues/1.pdf" for n in numbers])
    base = figures(pages)
    print(
        f"Certificate PDF downloads, in-process (django.test.Client): {total:,} public "
        f"certificates; {s.data_description(args)}; {len(numbers)} distinct certificates, "
        "each asked once per row"
    )
    print(f"{'what':<34} {'p50':>7} {'p95':>7} {'max':>7} {'x page p50':>10}")
    for label, times in (
        ("certificate page (baseline)", pages),
        ("PDF, drawn (first download)", cold),
        ("PDF, kept (second download)", kept),
    ):
        p50, p95, worst = figures(times)
        print(f"{label:<34} {p50:7.1f} {p95:7.1f} {worst:7.1f} {p50 / base[0]:10.2f}")


if __name__ == "__main__":
    main()
