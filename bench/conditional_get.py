"""What a CDN's revalidation costs: each public answer asked in full (200) and asked again
with its ETag (304), timed in this process.

    .venv/bin/python bench/conditional_get.py --var-dir /tmp/bench20k --min-certificates 1000
                                              [--database-url postgres://...] [--numbers 40]

On a data set built by ``apcert demo-data``. Requests go through Django's test client (the
whole middleware stack, no network), and the API's certificate answer also through the WSGI
layer in front of Django (``apcert.api.fastpath``), as served. For each kind of answer,
``--numbers`` distinct certificates are asked once in full, then once with ``If-None-Match``
holding the tag just received; a PDF is asked once more first, so that the full answers
timed are the kept PDF, not its first drawing. Prints, per kind, the median of each and
their ratio.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import _servers as s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    s.add_data_arguments(parser)
    parser.add_argument("--numbers", type=int, default=40, help="certificates asked per kind")
    args = parser.parse_args()
    try:
        s.setup_django(args)
        total = s.count_public_certificates(args)
    except s.BenchError as error:
        sys.exit(str(error))
    from django.test import Client

    from apcert.api.fastpath import PublicApiLayer
    from apcert.certificates.models import Certificate
    from apcert.wsgi import application

    numbers = s.sample_numbers(args.numbers, seed=1)
    client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="127.0.0.1")
    layer = PublicApiLayer(application)

    def through_django(path: str, tag: str | None) -> tuple[int, str]:
        headers = {"If-None-Match": tag} if tag else {}
        response = client.get(path, headers=headers)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        else:
            _ = response.content
        return response.status_code, response.get("ETag", "")

    def through_layer(path: str, tag: str | None) -> tuple[int, str]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
        }
        if tag:
            environ["HTTP_IF_NONE_MATCH"] = tag
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

        b"".join(layer(environ, start_response))
        return answer["status"], answer["headers"].get("ETag", "")

    certificates = {c.number: c for c in Certificate.objects.filter(number__in=numbers)}
    kinds: dict[str, tuple[Callable[[str, str | None], tuple[int, str]], Callable[[str], str]]] = {
        "certificate page": (through_django, lambda n: f"/certificates/{quote(n)}"),
        "certificate PDF": (
            through_django,
            lambda n: f"/certificates/{quote(n)}/issues/{certificates[n].current_issue_number}.pdf",
        ),
        "search page": (through_django, lambda n: "/?q=" + quote(n)),
        "API certificate (Django)": (
            through_django,
            lambda n: f"/api/public/certificates/{quote(n, safe='')}",
        ),
        "API certificate (fast path)": (
            through_layer,
            lambda n: f"/api/public/certificates/{n}",  # as a WSGI server hands it over
        ),
        "organization page": (
            through_django,
            lambda n: f"/organizations/{certificates[n].organization_id}",
        ),
    }
    print(f"{total:,} public certificates; {len(numbers)} asked per kind; medians in ms")
    print(f"{'answer':<30} {'200':>9} {'304':>9} {'304/200':>9}")
    for name, (ask, path_of) in kinds.items():
        full, revalidated = [], []
        for number in numbers:
            path = path_of(number)
            if name == "certificate PDF":
                ask(path, None)  # the first drawing is kept: time the kept one
            started = time.perf_counter()
            status, tag = ask(path, None)
            full.append((time.perf_counter() - started) * 1000)
            if status != 200 or not tag:
                sys.exit(f"error: {path} answered {status} with ETag {tag!r}")
            started = time.perf_counter()
            status, _ = ask(path, tag)
            revalidated.append((time.perf_counter() - started) * 1000)
            if status != 304:
                sys.exit(f"error: {path} with its own ETag answered {status}, not 304")
        p200, p304 = statistics.median(full), statistics.median(revalidated)
        print(f"{name:<30} {p200:>9.2f} {p304:>9.2f} {p304 / p200:>9.3f}")


if __name__ == "__main__":
    main()
