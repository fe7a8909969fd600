"""Search latency of the public register: in the database and end to end over HTTP.

    .venv/bin/python bench/register_search.py --var-dir /tmp/bench1m [--duration 20]

Builds a fixed, seeded mix of realistic searches from the data set itself (an exact
certificate number, a holder's name, the same with a typo, a city, a scope word, a word with
filters, filters alone, no query at all, a word sorted by expiry, page 5 of a common word),
then:

0. cold, in the database: ``--cold`` (1,000) other searches of the same kinds, each run once,
   before anything else of this process has run a search: what a register meets when its
   visitors search for different things (the warm figures below repeat the mix);
1. in the database: calls ``apcert.register.search.search(SearchQuery(...))`` in this
   process, one search at a time, passes of the shuffled mix for ``--duration`` seconds;
2. over HTTP: asks ``GET /api/public/search?...`` of apcert served as ``apcert serve`` serves
   it (granian, WSGI, one worker, pinned to ``--server-cpu``), one request at a time on one
   keep-alive connection from this process (pinned to ``--client-cpu``), timed from sending
   to the last byte; then the same URLs of the two baselines of ``api_rps.py`` (a minimal
   Starlette JSON endpoint on uvicorn and a raw WSGI one on granian): the floor that HTTP and
   the client cost, measured in the same run.

Between 1 and 2, ``--split`` (on by default; ``--no-split`` skips it) times, for each search of
the mix, the search itself and the building of the API's answer from its result apart: the
answer as the view sends it (``apcert.api.public.search_answer_json``: plain dicts, orjson)
and, as a baseline in the same run, the same answer through the ``SearchOut`` schema as ninja
would make it (validated, dumped, rendered by its JSON renderer).

Prints p50/p95 per kind of search and overall for each, then one summary table. Targets:
p95 under 10 ms in the database and under 50 ms end to end, on SQLite with
1,000,000 certificates. ``--sql`` adds one pass that times every SQL statement, its execute
and the fetches of its rows, and shows where each kind of search spends its time;
``--show`` prints each search with its total.
The figures and how to read them: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import _servers as s

DB_TARGET_MS = 10.0
HTTP_TARGET_MS = 50.0
SEARCH_PATH = "/api/public/search"
KINDS = (
    "number",
    "holder",
    "holder_typo",
    "city",
    "scope_word",
    "word_filters",
    "filters",
    "empty",
    "sort_expiry",
    "page_5",
)
#: Words of scope wording too common or too short to be what someone searches for.
STOP = {
    "and",
    "for",
    "the",
    "with",
    "from",
    "into",
    "including",
    "according",
    "customer",
    "specifications",
}


@dataclass(frozen=True)
class Search:
    kind: str
    params: dict[str, str]

    @property
    def path(self) -> str:
        return SEARCH_PATH + ("?" + urlencode(self.params) if self.params else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    s.add_data_arguments(parser)
    s.add_server_arguments(parser)
    parser.add_argument(
        "--per-kind", type=int, default=20, help="distinct searches of each kind (default 20)"
    )
    parser.add_argument("--seed", type=int, default=1, help="picks the searches (default 1)")
    parser.add_argument(
        "--cold",
        type=int,
        default=1000,
        help="distinct searches run once each, first, before any warm-up (default 1,000; "
        "0 skips them)",
    )
    parser.add_argument("--skip-db", action="store_true", help="only the HTTP side")
    parser.add_argument(
        "--split",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the search and the building of its API answer apart (default on)",
    )
    parser.add_argument("--skip-http", action="store_true", help="only the database side")
    parser.add_argument(
        "--show", action="store_true", help="print the searches and their totals, then go on"
    )
    parser.add_argument(
        "--sql",
        action="store_true",
        help="after the database phase, one more pass that times each SQL statement and "
        "prints where each kind of search spends its time",
    )
    args = parser.parse_args()
    s.install_cleanup()
    s.pin_this_process(args.client_cpu)

    s.progress("reading the data set")
    env = s.setup_django(args)
    certificates = s.count_public_certificates(args)
    searches = build_mix(args.per_kind, args.seed)
    print(f"machine: {s.machine_description()}")
    print(f"data: {certificates:,} public certificates; {s.data_description(args)}")
    print(
        f"mix: {len(searches)} searches, {args.per_kind} of each of {len(KINDS)} kinds "
        f"(seed {args.seed}); {args.duration:.0f} s of passes per phase after "
        f"{args.warmup:.0f} s of warm-up; one search at a time"
    )

    db: dict[str, list[float]] = {}
    http: dict[str, dict[str, list[float]]] = {}
    if not args.skip_db and args.cold:
        cold = build_mix(-(-args.cold // len(KINDS)), args.seed + 1)
        report(
            f"in the database, cold: {len(cold):,} distinct searches, each run once, before "
            "any other search of this process (what the OS has cached is not controlled)",
            measure_once(cold),
            DB_TARGET_MS,
        )
    if not args.skip_db:
        db = measure_db(searches, args)
        report("in the database: search(SearchQuery(...)) in-process", db, DB_TARGET_MS)
        if args.sql:
            sql_breakdown(searches)
        if args.split:
            answer_split(searches, args)
    if not args.skip_http:
        http = measure_http(searches, args, env)
    summary(db, http)


# --- the mix -------------------------------------------------------------------------------


def build_mix(per_kind: int, seed: int) -> list[Search]:
    """``per_kind`` searches of every kind, made from certificates picked with ``seed``."""
    from apcert.applications.models import ScopeLine
    from apcert.certificates.models import Certificate
    from apcert.organizations.models import Site

    rng = random.Random(seed)
    numbers = s.sample_numbers(per_kind * 4, seed)
    certificates = list(
        Certificate.objects.filter(number__in=numbers)
        .select_related("organization")
        .order_by("number")
    )
    rng.shuffle(certificates)
    if len(certificates) < per_kind:
        raise s.BenchError(f"only {len(certificates)} certificates to build searches from")
    org_ids = {c.organization_id for c in certificates}
    cities: dict[int, list[str]] = {}
    sites = Site.objects.filter(organization_id__in=org_ids, published=True)
    for org_id, city in sites.values_list("organization_id", "city"):
        cities.setdefault(org_id, []).append(city)
    scope: dict[int, list[tuple[str, str]]] = {}
    for application_id, wording, category in ScopeLine.objects.filter(
        application_id__in={c.application_id for c in certificates}
    ).values_list("application_id", "wording", "category__code"):
        scope.setdefault(application_id, []).append((wording, category))

    def scope_word(cert: Any) -> str:
        words = [
            w
            for wording, _ in scope.get(cert.application_id, [])
            for w in re.findall(r"[A-Za-z]{5,}", wording)
            if w.lower() not in STOP
        ]
        return rng.choice(words).lower() if words else "testing"

    def category(cert: Any) -> str:
        codes = [code for _, code in scope.get(cert.application_id, [])]
        return rng.choice(codes) if codes else ""

    def holder(cert: Any) -> str:
        # What people type: the distinctive words of the name, not the legal form.
        return " ".join(cert.organization.legal_name.split()[:2])

    def typo(name: str) -> str:
        first, _, rest = name.partition(" ")
        if len(first) >= 4:
            i = rng.randrange(1, len(first) - 1)
            letter = rng.choice([c for c in "aeiourstn" if c != first[i].lower()])
            first = first[:i] + letter + first[i + 1 :]
        return f"{first} {rest}".strip()

    makers: dict[str, Callable[[Any], dict[str, str]]] = {
        "number": lambda c: {"q": c.number},
        "holder": lambda c: {"q": holder(c)},
        "holder_typo": lambda c: {"q": typo(holder(c))},
        "city": lambda c: {"q": rng.choice(cities.get(c.organization_id) or ["Munich"])},
        "scope_word": lambda c: {"q": scope_word(c)},
        "word_filters": lambda c: {
            "q": scope_word(c),
            "country": c.organization.country,
            "status": "current",
            "category": category(c),
        },
        "filters": lambda c: {
            "country": c.organization.country,
            "status": rng.choice(["current", "current", "suspended", "expired"]),
            "category": category(c),
        },
        "empty": lambda c: {},
        "sort_expiry": lambda c: {"q": scope_word(c), "sort": "expires"},
        "page_5": lambda c: {"q": scope_word(c), "page": "5"},
    }
    mix = []
    for kind in KINDS:
        picked = rng.sample(certificates, per_kind)
        mix.extend(Search(kind, {k: v for k, v in makers[kind](c).items() if v}) for c in picked)
    return mix


# --- in the database ------------------------------------------------------------------------


def measure_db(searches: list[Search], args: argparse.Namespace) -> dict[str, list[float]]:
    try:
        from apcert.register.search import SearchQuery, search
    except ImportError as exc:
        raise s.BenchError(f"apcert.register.search has no search() yet ({exc})") from None
    queries = [(x.kind, SearchQuery.from_params(x.params)) for x in searches]
    if args.show:
        for (kind, query), x in zip(queries, searches, strict=True):
            result = search(query)
            print(
                f"  {kind:<13} {x.path:<90} total {result.total}"
                f"{'' if result.total_exact else '+'} hits {len(result.hits)}"
                + (f" corrected {result.corrected!r}" if result.corrected else "")
            )

    def run(item: tuple[str, Any]) -> None:
        search(item[1])

    s.progress("in the database: warm-up")
    passes(queries, run, args.warmup, args.seed, measure=False)
    s.progress("in the database: measuring")
    return passes(queries, run, args.duration, args.seed, measure=True)


def measure_once(searches: list[Search]) -> dict[str, list[float]]:
    """Each search run once, in a shuffled order: no search meets a cache it warmed."""
    from apcert.register.search import SearchQuery, search

    order = [(x.kind, SearchQuery.from_params(x.params)) for x in searches]
    random.Random(len(order)).shuffle(order)
    times: dict[str, list[float]] = {}
    s.progress(f"in the database, cold: {len(order):,} distinct searches, once each")
    for kind, query in order:
        t0 = time.perf_counter()
        search(query)
        times.setdefault(kind, []).append(time.perf_counter() - t0)
    return times


def passes(
    items: list[Any],
    run: Callable[[Any], None],
    duration: float,
    seed: int,
    *,
    measure: bool,
) -> dict[str, list[float]]:
    """Shuffled passes over ``items`` until ``duration`` seconds are spent, at least one pass
    when measuring. Returns the seconds of each call by kind."""
    rng = random.Random(seed)
    times: dict[str, list[float]] = {}
    started = time.monotonic()
    passes_done = 0
    while True:
        if time.monotonic() - started >= duration and (passes_done or not measure):
            break
        order = items[:]
        rng.shuffle(order)
        for item in order:
            t0 = time.perf_counter()
            run(item)
            times.setdefault(item[0], []).append(time.perf_counter() - t0)
        passes_done += 1
    if measure:
        s.progress(f"  {passes_done} passes, {sum(len(v) for v in times.values()):,} searches")
    return times


def sql_breakdown(searches: list[Search]) -> None:
    """One pass of the mix, timing every SQL statement: per kind, the share of the search's
    time spent in SQL and the statements that took most of it (summed over the pass)."""
    from django.db import connection

    from apcert.register.search import SearchQuery, search

    spent: dict[str, dict[str, list[float]]] = {}
    current: list[str] = [""]

    def timer(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = " ".join(sql.split())
            shape = re.sub(r"'[^']*'", "?", shape)
            spent.setdefault(current[0], {}).setdefault(shape, []).append(time.perf_counter() - t0)

    # SQLite runs most of a statement while its rows are fetched, not in execute(): the
    # fetches are timed too, and counted to the statement the cursor last ran.
    from django.db.backends import utils

    last: dict[int, str] = {}
    fetched: dict[str, dict[str, list[float]]] = {}
    # Django's cursor wrapper hands fetches to the driver's cursor through __getattr__:
    # methods of the same names on the class, for this pass only, are found first.
    names = ("fetchone", "fetchmany", "fetchall")

    def timed_fetch(name: str) -> Any:
        def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return getattr(self.cursor, name)(*args, **kwargs)
            finally:
                shape = last.get(id(self.cursor), "?")
                fetched.setdefault(current[0], {}).setdefault(shape, []).append(
                    time.perf_counter() - t0
                )

        return fetch

    def remembered(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        shape = re.sub(r"'[^']*'", "?", " ".join(sql.split()))
        last[id(context["cursor"].cursor)] = shape
        return timer(execute, sql, params, many, context)

    totals: dict[str, float] = {}
    for name in names:
        setattr(utils.CursorWrapper, name, timed_fetch(name))
    try:
        with connection.execute_wrapper(remembered):
            for x in searches:
                current[0] = x.kind
                query = SearchQuery.from_params(x.params)
                t0 = time.perf_counter()
                search(query)
                totals[x.kind] = totals.get(x.kind, 0.0) + time.perf_counter() - t0
    finally:
        for name in names:
            delattr(utils.CursorWrapper, name)
    for kind, shapes in fetched.items():
        for shape, times in shapes.items():
            spent.setdefault(kind, {}).setdefault(shape, []).extend(times)
    print()
    print(
        "where the time goes (one pass; ms summed over the searches of each kind; each "
        "statement's execute and the fetches of its rows)"
    )
    for kind in KINDS:
        statements = spent.get(kind, {})
        in_sql = sum(sum(v) for v in statements.values())
        print(
            f"{kind}: {totals.get(kind, 0) * 1000:.1f} ms in all, {in_sql * 1000:.1f} ms in "
            "SQL (execute and fetch)"
        )
        ranked = sorted(statements.items(), key=lambda item: -sum(item[1]))
        for shape, times in ranked[:3]:
            print(f"  {sum(times) * 1000:8.1f} ms  {shape[:160]}")


def answer_split(searches: list[Search], args: argparse.Namespace) -> None:
    """Passes of the mix for ``--duration`` seconds, each search timed in three parts: the
    search, its answer as the API sends it, and the same answer through the schema (what
    validating the answer with ``SearchOut`` and rendering it as ninja does would cost)."""
    import json

    from ninja.responses import NinjaJSONEncoder

    from apcert.api.public import SearchOut, search_answer, search_answer_json
    from apcert.register.search import SearchQuery, search

    def through_schema(result: Any) -> bytes:
        answer = SearchOut.model_validate(search_answer(result)).model_dump()
        return json.dumps(answer, cls=NinjaJSONEncoder).encode()

    queries = [(x.kind, SearchQuery.from_params(x.params)) for x in searches]
    parts = ("search", "answer", "schema")
    times: dict[str, dict[str, list[float]]] = {part: {} for part in parts}
    sizes: list[int] = []
    rng = random.Random(args.seed)
    s.progress("in-process split: search, answer, answer through the schema")
    started = time.monotonic()
    while time.monotonic() - started < args.duration or not sizes:
        order = queries[:]
        rng.shuffle(order)
        for kind, query in order:
            t0 = time.perf_counter()
            result = search(query)
            t1 = time.perf_counter()
            body = search_answer_json(result)
            t2 = time.perf_counter()
            through_schema(result)
            t3 = time.perf_counter()
            for part, spent in zip(parts, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                times[part].setdefault(kind, []).append(spent)
            sizes.append(len(body))
    print()
    print(
        "in-process split, ms: p50 p95 of the search, of its answer as sent (dicts, orjson) "
        "and, as the baseline, of the same answer through the SearchOut schema"
    )
    header = (
        f"{'kind':<14} {'search':>17} {'answer':>17} {'through schema':>17} "
        f"{'answer/search':>14} {'schema/answer':>14}"
    )
    print(header)
    print("-" * len(header))
    for kind in (*KINDS, None):
        cells = []
        p50s = []
        for part in parts:
            by_kind = times[part]
            values = [t for v in by_kind.values() for t in v] if kind is None else by_kind[kind]
            p50s.append(s.percentile(values, 50))
            cells.append(
                f"{s.percentile(values, 50) * 1000:>8.3f} {s.percentile(values, 95) * 1000:>8.3f}"
            )
        print(
            f"{kind or 'overall':<14} {' '.join(cells)} {p50s[1] / p50s[0]:>14.2f} "
            f"{p50s[2] / p50s[1]:>14.1f}"
        )
    print(f"answers: {len(sizes):,}, {statistics.mean(sizes):,.0f} bytes on average")


# --- over HTTP ------------------------------------------------------------------------------


def measure_http(
    searches: list[Search], args: argparse.Namespace, env: dict[str, str]
) -> dict[str, dict[str, list[float]]]:
    paths = [(x.kind, x.path) for x in searches]
    results: dict[str, dict[str, list[float]]] = {}
    statuses: dict[str, dict[int, int]] = {}
    with s.workdir() as tmp:
        with s.start_app(args, env, tmp, SEARCH_PATH) as app:
            status, body = s.get(app.port, SEARCH_PATH + "?q=test")
            if status != 200:
                raise s.BenchError(
                    f"apcert answered {status} to GET {SEARCH_PATH}?q=test "
                    f"(is the search API there yet?): {body[:300]!r}"
                )
            results["apcert"], statuses["apcert"] = _client_phase(app, paths, args)
        for label, context in s.baselines(args, tmp, SEARCH_PATH):
            with context as server:
                results[label], statuses[label] = _client_phase(server, paths, args)
    report("over HTTP, end to end: apcert", results["apcert"], HTTP_TARGET_MS, statuses["apcert"])
    for label in list(results)[1:]:
        report(
            f"over HTTP, end to end: baseline {label}",
            results[label],
            None,
            statuses[label],
            per_kind=False,
        )
    return results


def summary(db: dict[str, list[float]], http: dict[str, dict[str, list[float]]]) -> None:
    """One table of what was measured: per kind, p50/p95 in the database and over HTTP, the
    difference of the p50s (what HTTP, Django and the JSON answer add), and each baseline
    over HTTP (what HTTP and the client alone cost, measured in the same run)."""

    def cells(times: dict[str, list[float]], kind: str | None) -> str:
        values = [t for v in times.values() for t in v] if kind is None else times.get(kind, [])
        if not values:
            return f"{'-':>8} {'-':>8}"
        return f"{s.percentile(values, 50) * 1000:>8.2f} {s.percentile(values, 95) * 1000:>8.2f}"

    def p50(times: dict[str, list[float]], kind: str | None) -> float:
        values = [t for v in times.values() for t in v] if kind is None else times.get(kind, [])
        return s.percentile(values, 50) * 1000 if values else float("nan")

    app = http.get("apcert", {})
    print()
    print("summary, ms: p50 p95 of each; 'added' is the HTTP p50 less the database p50")
    header = f"{'kind':<14} {'database':>17} {'HTTP, apcert':>17} {'added':>8}"
    print(header)
    print("-" * len(header))
    for kind in (*KINDS, None):
        added = p50(app, kind) - p50(db, kind)
        print(
            f"{kind or 'overall':<14} {cells(db, kind)} {cells(app, kind)} "
            + (f"{added:>8.2f}" if added == added else f"{'-':>8}")
        )
    for label, times in http.items():
        if label != "apcert":
            print(f"baseline over HTTP, {label}: p50 p95 {cells(times, None)}")


def _client_phase(
    server: s.Server, paths: list[tuple[str, str]], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[int, int]]:
    client = s.Client(server.port)
    statuses: dict[int, int] = {}

    def run(item: tuple[str, str]) -> None:
        _, status, _ = client.get(item[1])
        statuses[status] = statuses.get(status, 0) + 1

    try:
        s.progress(f"over HTTP, {server.name}: warm-up")
        passes(paths, run, args.warmup, args.seed, measure=False)
        statuses.clear()
        s.progress(f"over HTTP, {server.name}: measuring")
        times = passes(paths, run, args.duration, args.seed, measure=True)
    finally:
        client.close()
    return times, statuses


# --- figures --------------------------------------------------------------------------------


def report(
    title: str,
    times: dict[str, list[float]],
    target_ms: float | None,
    statuses: dict[int, int] | None = None,
    *,
    per_kind: bool = True,
) -> None:
    print()
    print(title)
    header = f"{'kind':<14} {'n':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}"
    print(header)
    print("-" * len(header))
    everything: list[float] = []
    for kind in KINDS:
        values = times.get(kind, [])
        everything.extend(values)
        if values and per_kind:
            p50, p95, _ = s.summary_ms(values)
            print(f"{kind:<14} {len(values):>6} {p50:>9.2f} {p95:>9.2f} {max(values) * 1000:>9.2f}")
    p50, p95, _ = s.summary_ms(everything)
    print(
        f"{'overall':<14} {len(everything):>6} {p50:>9.2f} {p95:>9.2f} "
        f"{max(everything) * 1000:>9.2f}"
    )
    if statuses is not None:
        print("statuses: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items())))
        if set(statuses) - {200}:
            print(f"warning: {title}: answers other than 200", file=sys.stderr)
    if target_ms is not None:
        verdict = "met" if p95 < target_ms else "MISSED"
        worst = max(
            (k for k in KINDS if times.get(k)),
            key=lambda k: s.percentile(times[k], 95),
        )
        print(
            f"target: overall p95 under {target_ms:.0f} ms: {verdict} ({p95:.2f} ms); "
            f"slowest kind at p95: {worst} ({s.percentile(times[worst], 95) * 1000:.2f} ms)"
        )


if __name__ == "__main__":
    s.run(main)
