"""Request counts and durations for ``/metrics``, in Prometheus's text format.

granian runs several worker processes, and a scrape reaches one of them: a count kept in one
process's memory would jump between scrapes. So under ``apcert serve`` each process writes its
counts to files of its own in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess
mode; ``apcert serve`` sets the directory and empties it at each start), and a scrape adds up
every process's files. Without that variable (a test, a single process started by other
means) each process counts in its own memory.

The figures that describe the app rather than the requests (queue depth, sweep lag, the
worker's heartbeat, the e-mail backlog, free disk) are not counted here: they are read from
the database and the disk at each scrape (``apcert.web.views_metrics``), so every process
reports the same values, whichever answers.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

#: The registry of this process's own counts (read when there is no multiprocess directory).
LOCAL = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "apcert_http_requests",
    "HTTP requests answered, by route (URL pattern name) and status class.",
    ["route", "status"],
    registry=LOCAL,
)
DURATION = Histogram(
    "apcert_http_request_duration_seconds",
    "Time from a request's arrival to the last byte of its answer, by route and status class.",
    ["route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=LOCAL,
)


def request_served(*, route: str, status_class: str, seconds: float) -> None:
    REQUESTS.labels(route, status_class).inc()
    DURATION.labels(route, status_class).observe(seconds)


def request_exposition(multiprocess_dir: str) -> bytes:
    """The request metrics in the text format: every process's when ``multiprocess_dir`` is
    given, else this process's own."""
    if not multiprocess_dir:
        return generate_latest(LOCAL)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiprocess_dir)
    return generate_latest(registry)
