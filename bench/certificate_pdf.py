"""How long one certificate PDF takes to make: a typical issue and a 60-line scope.

    .venv/bin/python bench/certificate_pdf.py [--runs 20] [--var-dir var/bench-pdf]

Renders in this process, with no database: the issue is built in memory with the fields the
register stores (a holder with an accented name, two sites, one of them unpublished, two
standards, a signed credential of about 1 kB). The first render of a process is shown apart:
it loads the libraries, and on a fresh ``--var-dir`` it also writes the two static font
faces (regular and bold) once. Prints the median, p95 and maximum of the renders after it,
and the PDF's size. The target: well under a second per PDF.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

STANDARDS = [
    {"designation": "ISO 9001", "edition": "2015",
     "title": "Quality management systems — Requirements"},
    {"designation": "IEC 61189-2", "edition": "2006",
     "title": "Test methods for electrical materials, printed boards and other interconnection "
              "structures and assemblies"},
]  # fmt: skip


def issue_with(lines: int) -> Any:
    from apcert.bodies.models import CertificationBody
    from apcert.certificates.models import Certificate, CertificateIssue
    from apcert.schemes.models import Scheme

    certificate = Certificate(
        number="IECQ-A XX 26.0001",
        cb=CertificationBody(code="XX", name="Example Certification GmbH", country="DE"),
        scheme=Scheme(code="AP", name="IECQ Approved Process"),
        first_issued_on=dt.date(2026, 3, 24),
    )
    sites = [
        {"id": 1, "name": "Main plant", "address": "Industriestraße 12", "city": "Dresden",
         "country": "DE", "published": True},
        {"id": 2, "name": "Second plant", "address": "Hafenweg 3", "city": "Leipzig",
         "country": "DE", "published": False},
    ]  # fmt: skip
    scope = [
        {
            "category": "EPL", "category_name": "Electroplating", "site_id": 1 + n % 2,
            "site_name": "", "standards": ["IEC 61189-2:2006", "ISO 9001:2015"],
            "wording": f"Line {n + 1}: electroplating of copper and tin finishes on printed "
                       "boards, with pre-treatment, rinsing and waste water treatment",
        }
        for n in range(lines)
    ]  # fmt: skip
    return CertificateIssue(
        certificate=certificate, issue_number=2, issued_on=dt.date(2026, 5, 4),
        valid_from=dt.date(2026, 5, 4), valid_until=dt.date(2029, 3, 23),
        reason="scope_extension", holder={"name": "Müller Elektronik GmbH", "country": "DE"},
        sites=sites, programmes=[{"code": "AP", "name": "IECQ Approved Process (general)"}],
        scope_lines=scope, standards=STANDARDS,
        created_at=dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC),
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--var-dir", default=str(Path("var") / "bench-pdf"))
    args = parser.parse_args()
    os.environ["APCERT_VAR_DIR"] = str(Path(args.var_dir).resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    import django

    django.setup()
    from apcert.documents import render_certificate_pdf, verification_url

    credential = {"@context": ["https://www.w3.org/ns/credentials/v2"], "proof": "z" * 900}
    url = verification_url("IECQ-A XX 26.0001", 2)
    started = time.perf_counter()
    render_certificate_pdf(issue_with(2), credential=credential, verify_url=url)
    print(f"first render of the process: {(time.perf_counter() - started) * 1000:.0f} ms")
    for label, lines in (("typical issue (2 scope lines)", 2), ("60 scope lines", 60)):
        issue = issue_with(lines)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            pdf = render_certificate_pdf(issue, credential=credential, verify_url=url)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[max(0, round(len(times) * 0.95) - 1)]
        print(
            f"{label}: median {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, "
            f"max {times[-1]:.0f} ms over {args.runs} renders; {len(pdf) / 1024:.0f} kB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
