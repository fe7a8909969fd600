"""The public register on PostgreSQL: one app server on the primary, then two app servers
reading from a streaming replica, under the same load, beside a plain baseline.

    .venv/bin/python bench/scale_out.py --database-url postgres://postgres@127.0.0.1:5432/pg1m \\
        --var-dir /tmp/pg1mvar --replica-dir /tmp/pg1m-replica [--duration 15] [--connections 8]

On a data set built by ``apcert demo-data`` into PostgreSQL. The replica is a physical copy of
the whole PostgreSQL server of ``--database-url``: with ``--replica-dir`` the benchmark makes
it afresh (``pg_basebackup -R``; about 50 s for the 16 GB of a million certificates here),
starts it on a free port of 127.0.0.1, waits until it has replayed what the primary wrote, and
stops and removes it at the end (``--keep-replica`` keeps the files). The primary must
accept replication connections from 127.0.0.1 (a ``host replication all 127.0.0.1/32 trust``
line in its ``pg_hba.conf``); the benchmark says so when it does not.
``--replica-url`` names a replica that is already running instead.

Three set-ups, one after the other, each loaded by wrk with ``--connections`` connections in
all (split evenly between the servers of the set-up), over distinct inputs:

- baseline: the raw WSGI endpoint on granian (no framework, no database), for the API's path;
- one: ``apcert serve`` on the primary alone;
- two: two ``apcert serve`` processes with ``DATABASE_REPLICA_URLS`` naming the replica, so that
  public reads go to the replica and writes (none here) to the primary.

For each of search (the page and the API), the certificate page, the certificate API, the
verification page and the certificate PDF, the benchmark prints requests a second, p50 / p95 /
p99 and answers that were not 200, and, for the two-server set-up, how many transactions each
database ran in it (from ``pg_stat_database``), which shows where the reads went. PDFs are asked
for certificates no earlier run of the same benchmark asked for, so each set-up draws them
(the kept ones are then measured apart, as "PDF kept"). The rate limits per client are off
(the load comes from one address); the bounds of work at once per process are as shipped,
so a PDF request may be answered 503 (busy), counted apart.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import _servers as s

#: Certificates whose PDFs are drawn before the "PDF kept" runs, which send them again.
KEPT = 100

#: The kinds of request, in the order they are measured.
KINDS = (
    "search page",
    "search API",
    "certificate page",
    "certificate API",
    "verify page",
    "PDF drawn",
    "PDF kept",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    s.add_data_arguments(parser)
    s.add_server_arguments(parser)
    parser.set_defaults(threads=4, duration=15.0)
    parser.add_argument("--connections", type=int, default=8, help="wrk connections in all")
    parser.add_argument(
        "--draw-connections",
        type=int,
        default=1,
        help="connections a server for the PDFs to draw (default 1, the PDFs a server draws "
        "at once; more are answered busy)",
    )
    parser.add_argument("--samples", type=int, default=3000, help="distinct certificates")
    parser.add_argument("--seed", type=int, default=1, help="picks the certificates")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--replica-url", help="a running streaming replica of the primary")
    where.add_argument(
        "--replica-dir", type=Path, help="where the replica is copied afresh and run from"
    )
    parser.add_argument(
        "--keep-replica",
        action="store_true",
        help="leave the copy in --replica-dir at the end (it is removed by default)",
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to measure")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        raise s.BenchError("--database-url must name the PostgreSQL primary of the data set")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise s.BenchError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    s.install_cleanup()
    s.wrk_available()
    env = s.setup_django(args)
    count = s.count_public_certificates(args)
    s.progress(f"{count:,} public certificates; {s.data_description(args)}")
    paths = inputs(args)
    s.static_files(env)

    with contextlib.ExitStack() as stack:
        replica_url = args.replica_url or stack.enter_context(
            replica(args.database_url, args.replica_dir, keep=args.keep_replica)
        )
        caught_up(args.database_url, replica_url)
        logs = stack.enter_context(s.workdir())
        rows: list[tuple[str, str, s.WrkResult, str]] = []

        s.progress("baseline: raw WSGI on granian")
        [(label, baseline)] = [b for b in s.baselines(args, logs, "/") if "WSGI" in b[0]]
        with baseline as server:
            result = load(args, [server], paths["certificate API"], logs, args.client_cpu)
            rows.append(("baseline", "certificate API", result, ""))

        s.progress("one app server on the primary")
        port = s.free_port()
        with s.start(
            "apcert-one",
            apcert_argv(args, port, args.server_cpu),
            port=port,
            env=env,
            ready_path="/healthz",
            logs=logs,
        ) as one:
            for kind in kinds:
                if kind == "PDF kept":
                    prime(one, pick(paths, kind, "one"))
                result = load(
                    args, [one], pick(paths, kind, "one"), logs, args.client_cpu, per(args, kind)
                )
                rows.append(("one", kind, result, ""))

        s.progress("two app servers, public reads from the replica")
        env_two = {**env, "DATABASE_REPLICA_URLS": replica_url}
        with contextlib.ExitStack() as servers:
            two = []
            for i, cpu in enumerate(sorted(s.CPUS)[:2] if len(s.CPUS) > 1 else [0, 0]):
                port = s.free_port()
                two.append(
                    servers.enter_context(
                        s.start(
                            f"apcert-{i + 1}",
                            apcert_argv(args, port, str(cpu)),
                            port=port,
                            env=env_two,
                            ready_path="/healthz",
                            logs=logs,
                        )
                    )
                )
            for kind in kinds:
                before = transactions(args.database_url), transactions(replica_url)
                # Each server has a core of its own; wrk and PostgreSQL go where there is room.
                result = load(args, two, pick(paths, kind, "two"), logs, "", per(args, kind))
                after = transactions(args.database_url), transactions(replica_url)
                where_ = f"primary {after[0] - before[0]:,}, replica {after[1] - before[1]:,}"
                rows.append(("two", kind, result, where_))
        report(args, count, label, rows)


# --- the inputs -------------------------------------------------------------------------------


def inputs(args: argparse.Namespace) -> dict[object, list[str]]:
    """The paths of every kind: distinct certificates, searches made from them; the PDFs of
    each set-up from certificates of its own, so that each draws what it sends."""
    import register_search
    from django.db.models import F

    from apcert.certificates.models import Certificate
    from apcert.register.models import KeptCertificatePdf

    numbers = s.sample_numbers(args.samples, args.seed)
    issues = dict(
        Certificate.objects.filter(number__in=numbers).values_list(
            "number", F("current_issue_number")
        )
    )
    kept = set(
        KeptCertificatePdf.objects.filter(issue__certificate__number__in=numbers).values_list(
            "issue__certificate__number", flat=True
        )
    )
    fresh = [n for n in numbers if n not in kept]
    # A few PDFs drawn before they are measured as kept; the rest split between the set-ups.
    again, fresh = fresh[:KEPT], fresh[KEPT:]
    half = len(fresh) // 2
    searches = register_search.build_mix(max(5, args.samples // 100), args.seed)

    def pdf(number: str) -> str:
        return f"/certificates/{quote(number)}/issues/{issues[number]}.pdf"

    paths: dict[object, list[str]] = {
        "search API": [search.path for search in searches],
        "search page": ["/?" + urlencode(search.params) for search in searches],
        "certificate page": [f"/certificates/{quote(n)}" for n in numbers],
        "certificate API": [f"{s.CERTIFICATE_PATH}{quote(n)}" for n in numbers],
        "verify page": [
            "/verify?" + urlencode({"number": n, "issue": issues[n]}, quote_via=quote)
            for n in numbers
        ],
        ("PDF drawn", "one"): [pdf(n) for n in fresh[:half]],
        ("PDF drawn", "two"): [pdf(n) for n in fresh[half:]],
        # Drawn once before they are measured (see prime()): sent from where they are kept.
        ("PDF kept", "one"): [pdf(n) for n in again],
        ("PDF kept", "two"): [pdf(n) for n in again],
    }
    s.progress(
        f"{len(numbers):,} certificates ({len(kept):,} with a kept PDF left out of the "
        f"drawn PDFs), {len(searches):,} searches"
    )
    return paths


# --- the servers and the load -----------------------------------------------------------------


def apcert_argv(args: argparse.Namespace, port: int, cpu: str) -> list[str]:
    """``apcert serve`` on ``port``, one worker of ``--threads`` threads, pinned to ``cpu``."""
    apcert = str(Path(sys.executable).with_name("apcert"))
    return s.pinned(
        cpu,
        [apcert, "serve", "--host", s.HOST, "--port", str(port), "--workers", "1",
         "--threads", str(args.threads)],
    )  # fmt: skip


def prime(server: s.Server, paths: list[str]) -> None:
    """Ask for each path until it is answered 200 (a PDF is drawn once, then kept)."""
    s.progress(f"drawing {len(paths)} PDFs before they are measured as kept")
    for path in paths:
        for _attempt in range(50):
            status, _ = s.get(server.port, path, timeout=60)
            if status == 200:
                break
            if status != 503:
                raise s.BenchError(f"GET {path} answered {status}")
            time.sleep(0.2)


def pick(paths: dict[object, list[str]], kind: str, setup: str) -> list[str]:
    return paths[kind, setup] if kind.startswith("PDF") else paths[kind]


def per(args: argparse.Namespace, kind: str) -> int | None:
    """Connections a server for ``kind``: for PDFs to draw, ``--draw-connections`` (as many
    as a server draws at once by default: more are only answered busy), else an even share."""
    return args.draw_connections if kind == "PDF drawn" else None


def load(
    args: argparse.Namespace,
    servers: Sequence[s.Server],
    paths: list[str],
    logs: Path,
    cpu: str,
    per_server: int | None = None,
) -> s.WrkResult:
    """wrk against every server at once, ``--connections`` split between them, after a
    warm-up over the same paths; one result for them all (the worst p50/p95/p99)."""
    share = per_server or max(1, args.connections // len(servers))
    results: list[s.WrkResult] = []
    for duration in (args.warmup, args.duration):
        procs = []
        for i, server in enumerate(servers):
            offset = (len(paths) * i) // len(servers)
            procs.append(
                s.start_wrk(
                    args,
                    server,
                    paths[offset:] + paths[:offset],
                    duration=duration,
                    connections=share,
                    workdir=logs,
                    cpu=cpu,
                )
            )
        results = [s.finish_wrk(proc, duration) for proc in procs]
    return s.WrkResult(
        requests=sum(r.requests for r in results),
        seconds=max(r.seconds for r in results),
        p50_ms=max(r.p50_ms for r in results),
        p95_ms=max(r.p95_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors={
            key: sum(r.errors.get(key, 0) for r in results)
            for key in {k for r in results for k in r.errors}
        },
    )


# --- the replica ------------------------------------------------------------------------------


def _pg_bin() -> Path:
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if all((directory / n).exists() for n in ("pg_ctl", "pg_basebackup")):
            return directory
    found = shutil.which("pg_basebackup")
    if found:
        return Path(found).parent
    raise s.BenchError("PostgreSQL's server programs (pg_ctl, pg_basebackup) are not installed")


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: root runs its programs as the postgres account."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise s.BenchError("running as root, and there is no postgres account") from None
    return ["runuser", "-u", "postgres", "--"]


def _run(argv: list[str], what: str, timeout: float) -> None:
    done = subprocess.run(  # noqa: S603 - PostgreSQL's own programs
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        output = (done.stderr or done.stdout).strip()[-2000:]
        hint = ""
        if "replication connection" in output or "pg_hba.conf" in output:
            hint = (
                "\nthe primary refuses replication connections from 127.0.0.1: add the line\n"
                "  host replication all 127.0.0.1/32 trust\n"
                "to its pg_hba.conf and reload it (SELECT pg_reload_conf())"
            )
        raise s.BenchError(f"{what} failed:\n{output}{hint}")


#: The file that marks a directory as a copy this benchmark made (and may remove).
MARK = ".made-by-bench-scale-out"


@contextlib.contextmanager
def replica(primary_url: str, directory: Path, keep: bool = False) -> Iterator[str]:
    """A streaming replica of the primary's server, copied afresh into ``directory`` by
    pg_basebackup and run on a free port until the block ends, then removed (unless
    ``keep``). Always a fresh copy: a copy stopped for a while needs WAL that the primary,
    holding none back for it, has already recycled."""
    bin_dir, prefix = _pg_bin(), _as_postgres()
    parts = urlsplit(primary_url)
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARK).exists():
            raise s.BenchError(f"{directory} is not empty, and not a copy this benchmark made")
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if prefix:
        shutil.chown(directory, "postgres", "postgres")
    s.progress(f"copying the primary's server into {directory} (pg_basebackup)")
    started = time.monotonic()
    try:
        _run(
            [*prefix, str(bin_dir / "pg_basebackup"), "-h", parts.hostname or s.HOST,
             "-p", str(parts.port or 5432), "-U", parts.username or "postgres",
             "-D", str(directory), "-R", "-X", "stream", "-c", "fast"],
            "pg_basebackup",
            timeout=3 * 3600,
        )  # fmt: skip
    finally:
        (directory / MARK).touch()
    s.progress(f"copied in {time.monotonic() - started:.0f} s")
    try:
        with _running(directory, bin_dir, prefix) as port:
            yield urlunsplit(
                parts._replace(netloc=f"{parts.username or 'postgres'}@{s.HOST}:{port}")
            )
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _running(directory: Path, bin_dir: Path, prefix: list[str]) -> Iterator[int]:
    """The copied server in ``directory`` started on a free port until the block ends."""
    _own_configuration(directory, prefix)
    port = s.free_port()
    sockets = directory.parent / f".{directory.name}-sockets"
    sockets.mkdir(exist_ok=True)
    if prefix:
        shutil.chown(sockets, "postgres", "postgres")
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets}"
        " -c hot_standby=on"
    )
    log = directory.parent / f"{directory.name}.log"
    if prefix:
        log.touch()
        shutil.chown(log, "postgres", "postgres")
    _run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(directory), "-o", options,
         "-l", str(log), "-w", "-t", "600", "start"],
        f"starting the replica (its log: {log})",
        timeout=660,
    )  # fmt: skip
    try:
        yield port
    finally:
        with contextlib.suppress(s.BenchError, subprocess.SubprocessError):
            _run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(directory), "-m", "fast", "stop"],
                "stopping the replica",
                timeout=120,
            )


def _own_configuration(directory: Path, prefix: list[str]) -> None:
    """The configuration files a copied server needs where its primary keeps them elsewhere
    (Debian's servers keep theirs under /etc): an empty main file (the replica's settings
    are given on its command line and in ``postgresql.auto.conf``), and a client file that
    lets 127.0.0.1 and the local socket in, as the bench's own servers do."""
    files = {
        "postgresql.conf": "# made by bench/scale_out.py: settings are on the command line\n",
        "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        "pg_ident.conf": "",
    }
    for name, text in files.items():
        path = directory / name
        if not path.exists():
            path.write_text(text)
            if prefix:
                shutil.chown(path, "postgres", "postgres")


def _one(url: str, query: str) -> object:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(query).fetchone()
        return row[0] if row else None


def caught_up(primary_url: str, replica_url: str, timeout: float = 600) -> None:
    """Wait until the replica is in recovery and has replayed what the primary has written."""
    if not _one(replica_url, "SELECT pg_is_in_recovery()"):
        raise s.BenchError(f"{replica_url} is not a replica (it is not in recovery)")
    target = str(_one(primary_url, "SELECT pg_current_wal_lsn()"))
    deadline = time.monotonic() + timeout
    while not _one(replica_url, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
        if time.monotonic() > deadline:
            raise s.BenchError(
                f"the replica did not replay up to {target} in {timeout:.0f} s; a copy made "
                "long ago may need WAL the primary has removed since (its log says so): "
                "remove its directory, and the next run makes a fresh copy"
            )
        time.sleep(0.5)
    s.progress(f"the replica has replayed the primary up to {target}")


def transactions(url: str) -> int:
    """Transactions committed so far in the data set's database of the server at ``url``."""
    return int(
        _one(  # type: ignore[arg-type]
            url,
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
    )


# --- the figures ------------------------------------------------------------------------------


def report(
    args: argparse.Namespace,
    count: int,
    baseline_label: str,
    rows: list[tuple[str, str, s.WrkResult, str]],
) -> None:
    base = next(r for setup, kind, r, _ in rows if setup == "baseline")
    one = {kind: r for setup, kind, r, _ in rows if setup == "one"}
    print()
    print(f"# The register on PostgreSQL, {count:,} public certificates")
    print(f"# {s.machine_description()}")
    print(
        f"# wrk, {args.connections} connections in all ({args.draw_connections} a server "
        f"for the PDFs to draw), {args.duration:.0f} s after {args.warmup:.0f} s of warm-up; "
        f"apcert serve with {args.threads} threads a server"
    )
    print(f"# baseline: {baseline_label}, {base.rps:,.0f} req/s on the API's path")
    print()
    print(
        "| set-up | kind | req/s | 200s/s | p50 ms | p95 ms | p99 ms | not 200 "
        "| two / one (200s/s) | transactions |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for setup, kind, r, where_ in rows:
        refused = r.errors.get("status", 0)
        ok = (r.requests - refused) / r.seconds
        ratio = ""
        if setup == "two" and kind in one:
            first = one[kind]
            first_ok = (first.requests - first.errors.get("status", 0)) / first.seconds
            ratio = f"{ok / first_ok:.2f}" if first_ok else ""
        elif setup == "baseline":
            ratio = ""
        others = {k: v for k, v in r.errors.items() if k != "status"}
        print(
            f"| {setup} | {kind} | {r.rps:,.0f} | {ok:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
            f"| {r.p99_ms:.1f} | {refused:,}{' ' + str(others) if others else ''} | {ratio} "
            f"| {where_} |"
        )


if __name__ == "__main__":
    s.run(main)
