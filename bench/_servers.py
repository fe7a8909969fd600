"""Shared pieces of the register benchmarks: the data set, the servers, wrk and the figures.

Not a benchmark itself (``api_rps.py`` and ``register_search.py`` are). Everything here talks
to 127.0.0.1 only. Every server is started as a subprocess in a session of its own and ended,
with everything it started, when the benchmark ends, fails or is stopped with Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HOST = "127.0.0.1"
#: The register's public API path of one certificate; the baselines answer the same path.
CERTIFICATE_PATH = "/api/public/certificates/"


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(SystemExit):
    """A benchmark that cannot run: the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


# --- the data set -------------------------------------------------------------------------

BUILD_HINT = (
    "build it with:\n"
    "  export APCERT_VAR_DIR={var}\n"
    "  .venv/bin/apcert migrate --noinput && .venv/bin/apcert load-reference && "
    ".venv/bin/apcert demo-data --certificates 1000000 --seed 1"
)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "bench1m",
        help="APCERT_VAR_DIR of the data set (SQLite database inside); default /tmp/bench1m",
    )
    parser.add_argument(
        "--database-url",
        default="",
        help="DATABASE_URL of the data set instead of SQLite under --var-dir",
    )
    parser.add_argument(
        "--min-certificates",
        type=int,
        default=1_000_000,
        help="refuse a data set with fewer public certificates (default 1,000,000)",
    )


#: The costly public pages' limits, by the end of their variables' names.
PAGE_LIMITS = ("SEARCH", "AS_OF", "PDF", "EXPORT", "VERIFY", "RECEIPT")


def app_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment of apcert, in this process and in the servers: the data set, no debug,
    and the rate limits off, the public API's and the costly pages' (a benchmark is one
    client asking very often)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG"}}
    env["APCERT_VAR_DIR"] = str(args.var_dir.resolve())
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    env["APCERT_API_RATE_LIMIT"] = "0"
    for kind in PAGE_LIMITS:
        env[f"APCERT_RATE_LIMIT_{kind}"] = "0"
    env["DJANGO_SETTINGS_MODULE"] = "apcert.settings"
    env.setdefault("APCERT_ENV", "development")
    return env


def setup_django(args: argparse.Namespace) -> dict[str, str]:
    """Check that the data set is there, then set up Django on it in this process.

    Returns the environment the servers get. Refuses (exits) with the commands that build the
    data set when it is missing.
    """
    var = args.var_dir.resolve()
    if not args.database_url and not (var / "apcert.sqlite3").is_file():
        raise BenchError(f"no data set: {var / 'apcert.sqlite3'} does not exist; " + _hint(var))
    env = app_environment(args)
    limits = [f"APCERT_RATE_LIMIT_{kind}" for kind in PAGE_LIMITS]
    for name in ("APCERT_VAR_DIR", "DATABASE_URL", "APCERT_API_RATE_LIMIT", "APCERT_ENV", *limits):
        if name in env:
            os.environ[name] = env[name]
        else:
            os.environ.pop(name, None)
    os.environ.pop("DEBUG", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "apcert.settings"
    import django

    django.setup()
    return env


def _hint(var: Path) -> str:
    return BUILD_HINT.format(var=var)


def count_public_certificates(args: argparse.Namespace) -> int:
    """The public certificates of the data set; refuses a data set that is too small."""
    from django.db import DatabaseError

    from apcert.certificates.choices import PUBLIC_STATUSES
    from apcert.certificates.models import Certificate

    try:
        count = Certificate.objects.filter(status__in=PUBLIC_STATUSES).count()
    except DatabaseError as exc:
        raise BenchError(
            f"the data set cannot be read ({exc}); " + _hint(args.var_dir.resolve())
        ) from None
    if count < args.min_certificates:
        raise BenchError(
            f"the data set holds {count:,} public certificates, fewer than "
            f"--min-certificates {args.min_certificates:,}; " + _hint(args.var_dir.resolve())
        )
    return count


def sample_numbers(count: int, seed: int) -> list[str]:
    """About ``count`` public certificate numbers spread over the whole register, always the
    same for the same data set and seed."""
    import random

    from django.db.models import Max, Min

    from apcert.certificates.choices import PUBLIC_STATUSES
    from apcert.certificates.models import Certificate

    bounds = Certificate.objects.aggregate(low=Min("id"), high=Max("id"))
    rng = random.Random(seed)
    low, high = bounds["low"], bounds["high"]
    ids = sorted({rng.randint(low, high) for _ in range(count * 2)})[: count * 2]
    rng.shuffle(ids)
    numbers: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        numbers.extend(
            Certificate.objects.filter(id__in=chunk, status__in=PUBLIC_STATUSES).values_list(
                "number", flat=True
            )
        )
        if len(numbers) >= count:
            break
    rng.shuffle(numbers)
    return numbers[:count]


def data_description(args: argparse.Namespace) -> str:
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        path = Path(str(connection.settings_dict["NAME"]))
        size = path.stat().st_size / 2**30
        return f"SQLite {sqlite3.sqlite_version} at {path} ({size:.1f} GiB)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    return f"{connection.vendor}: {version.split(',')[0]}"


# --- cores --------------------------------------------------------------------------------


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of each measured run (default 20)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of warm-up before each (default 3)"
    )
    parser.add_argument(
        "--server-cpu", default="0", help="the core the servers are pinned to (default 0)"
    )
    parser.add_argument(
        "--client-cpu", default="1", help="the core the load generator is pinned to (default 1)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="granian blocking threads of the one worker (apcert serve --threads; default 1)",
    )
    parser.add_argument(
        "--baseline-python",
        action="append",
        default=[],
        help="an interpreter with starlette and uvicorn that runs a Starlette baseline "
        "(repeatable; default: this one). One with uvloop and httptools installed gives "
        "uvicorn's fast event loop and HTTP parser",
    )


#: The cores this benchmark may use, read before it pins itself to one of them.
CPUS = frozenset(os.sched_getaffinity(0))


def pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    """``argv`` pinned to one core with taskset, when there is taskset and such a core."""
    taskset = shutil.which("taskset")
    if not cpu or taskset is None:
        return list(argv)
    if not {int(c) for c in cpu.split(",")} <= CPUS:
        progress(f"core {cpu} is not available here: not pinning")
        return list(argv)
    return [taskset, "-c", cpu, *argv]


def pin_this_process(cpu: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.sched_setaffinity(0, {int(c) for c in cpu.split(",")})


# --- servers ------------------------------------------------------------------------------

_running: dict[int, subprocess.Popen[bytes]] = {}


def _stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """End a process started by :func:`start` and everything it started (its session)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        # The leader is gone; workers it left in its session are ended all the same.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    _running.pop(proc.pid, None)


def _stop_all() -> None:
    for proc in list(_running.values()):
        _stop(proc, grace=2.0)


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop every server on exit, on an exception, on Ctrl-C and on SIGTERM."""
    atexit.register(_stop_all)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (in the
    # background of a script); the servers, in sessions of their own, never see it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGHUP, _on_sigterm)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str = "") -> str:
        return f"http://{HOST}:{self.port}{path}"


@contextlib.contextmanager
def start(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    env: dict[str, str],
    ready_path: str,
    logs: Path,
    timeout: float = 60.0,
) -> Iterator[Server]:
    """Run a server until the block ends; ready once ``ready_path`` answers (any status)."""
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own argv
            list(argv),
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _running[proc.pid] = proc
    server = Server(name, port, proc, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise BenchError(
                    f"{name} exited with {proc.returncode} before answering; its output:\n"
                    + log.read_text(errors="replace")[-3000:]
                )
            try:
                status, _ = get(port, ready_path, timeout=5.0)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{name} did not answer on port {port} within {timeout:.0f} s; output:\n"
                        + log.read_text(errors="replace")[-3000:]
                    ) from None
                time.sleep(0.1)
        progress(f"{name} is up on {server.url()} (pid {proc.pid}, answered {status})")
        yield server
    finally:
        _stop(proc)


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def apcert_argv(args: argparse.Namespace, port: int) -> list[str]:
    """The app as ``apcert serve`` serves it (granian, WSGI), one worker, pinned."""
    apcert = str(Path(sys.executable).with_name("apcert"))
    return pinned(
        args.server_cpu,
        [
            apcert,
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--threads",
            str(args.threads),
        ],
    )


def granian_wsgi_baseline_argv(args: argparse.Namespace, port: int) -> list[str]:
    """The raw WSGI baseline on granian with the options ``apcert serve`` passes."""
    granian = str(Path(sys.executable).with_name("granian"))
    return pinned(
        args.server_cpu,
        [
            granian,
            "--interface",
            "wsgi",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--blocking-threads",
            str(args.threads),
            "--working-dir",
            str(BENCH),
            "_baseline_wsgi:application",
        ],
    )


def uvicorn_baseline_argv(args: argparse.Namespace, python: str, port: int) -> list[str]:
    """The Starlette baseline on uvicorn, one worker (uvloop and httptools if installed)."""
    return pinned(
        args.server_cpu,
        [
            python,
            "-m",
            "uvicorn",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--app-dir",
            str(BENCH),
            "_baseline_starlette:app",
        ],
    )


def uvicorn_stack(python: str) -> str:
    """Which event loop and HTTP parser uvicorn picks under ``python`` ("auto")."""
    code = (
        "import importlib.util as u, uvicorn;"
        "print(uvicorn.__version__,"
        "'uvloop' if u.find_spec('uvloop') else 'asyncio',"
        "'httptools' if u.find_spec('httptools') else 'h11')"
    )
    out = subprocess.run(  # noqa: S603 - an interpreter the user named
        [python, "-c", code], capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise BenchError(f"{python} cannot import uvicorn: {out.stderr.strip()[-500:]}")
    version, loop, parser = out.stdout.split()
    return f"uvicorn {version} ({loop}, {parser})"


def baselines(
    args: argparse.Namespace, logs: Path, ready_path: str
) -> list[tuple[str, contextlib.AbstractContextManager[Server]]]:
    """The baselines, each as (label, server context) to start when needed: a Starlette one
    for each ``--baseline-python``, then the raw WSGI one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCERT_", "DJANGO_"))}
    out = []
    for i, python in enumerate(args.baseline_python or [sys.executable], start=1):
        port = free_port()
        out.append(
            (
                f"Starlette on {uvicorn_stack(python)}",
                start(
                    f"baseline-starlette-{i}",
                    uvicorn_baseline_argv(args, python, port),
                    port=port,
                    env=env,
                    ready_path=ready_path,
                    logs=logs,
                ),
            )
        )
    port = free_port()
    out.append(
        (
            "raw WSGI on granian",
            start(
                "baseline-wsgi",
                granian_wsgi_baseline_argv(args, port),
                port=port,
                env=env,
                ready_path=ready_path,
                logs=logs,
            ),
        )
    )
    return out


def static_files(env: dict[str, str]) -> None:
    """Collect the static files if that was never done (``apcert serve`` mounts them)."""
    from django.conf import settings

    if not Path(settings.STATIC_ROOT).is_dir():
        progress(f"collecting static files into {settings.STATIC_ROOT} (apcert serve mounts them)")
        subprocess.run(  # noqa: S603 - our own command
            [str(Path(sys.executable).with_name("apcert")), "collectstatic", "--noinput", "-v0"],
            env=env,
            check=True,
        )


def start_app(
    args: argparse.Namespace, env: dict[str, str], logs: Path, ready_path: str
) -> contextlib.AbstractContextManager[Server]:
    """apcert, after collecting its static files if that was never done (granian mounts
    them, as ``apcert serve`` asks)."""
    static_files(env)
    port = free_port()
    return start(
        "apcert", apcert_argv(args, port), port=port, env=env, ready_path=ready_path, logs=logs
    )


# --- wrk ----------------------------------------------------------------------------------

WRK_SCRIPT = """
-- Generated by bench/_servers.py: each request asks the next path of paths.txt, each
-- connection starting at its own place; done() prints the figures as one JSON line.
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local counter = 0
local statuses = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  position = (id * 7919) %% #paths
  responses = {}
end

function request()
  position = position %% #paths + 1
  return wrk.format("GET", paths[position])
end

function response(status, headers, body)
  responses[status] = (responses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write("WRK-JSON {")
  io.write(string.format('"requests": %%d, "duration_us": %%d, ', summary.requests,
    summary.duration))
  io.write(string.format('"errors": {"connect": %%d, "read": %%d, "write": %%d, ',
    summary.errors.connect, summary.errors.read, summary.errors.write))
  io.write(string.format('"status": %%d, "timeout": %%d}, ', summary.errors.status,
    summary.errors.timeout))
  io.write(string.format('"p50_us": %%d, "p90_us": %%d, "p95_us": %%d, "p99_us": %%d, ',
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99)))
  io.write(string.format('"max_us": %%d, "mean_us": %%f}\\n', latency.max, latency.mean))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchError("wrk is not installed: apt-get install wrk (Debian's package)")
    return wrk


def run_wrk(
    args: argparse.Namespace,
    server: Server,
    paths: Sequence[str],
    *,
    duration: float,
    connections: int,
    workdir: Path,
) -> WrkResult:
    """wrk (one thread, pinned to the client core) over ``paths`` for ``duration`` seconds."""
    proc = start_wrk(
        args, server, paths, duration=duration, connections=connections, workdir=workdir
    )
    return finish_wrk(proc, duration)


def start_wrk(
    args: argparse.Namespace,
    server: Server,
    paths: Sequence[str],
    *,
    duration: float,
    connections: int,
    workdir: Path,
    cpu: str | None = None,
) -> subprocess.Popen[bytes]:
    """wrk started (one thread, pinned to ``cpu``, by default the client core) over
    ``paths`` for ``duration`` seconds; :func:`finish_wrk` waits for its figures."""
    paths_file = workdir / f"paths-{server.name}.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    script = workdir / f"paths-{server.name}.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths_file})
    argv = pinned(
        args.client_cpu if cpu is None else cpu,
        [
            wrk_available(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            server.url("/"),
        ],
    )
    proc = subprocess.Popen(  # noqa: S603 - our own argv
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    _running[proc.pid] = proc
    return proc


def finish_wrk(proc: subprocess.Popen[bytes], duration: float) -> WrkResult:
    """The figures of a wrk started by :func:`start_wrk`, once it has ended."""
    try:
        out, _ = proc.communicate(timeout=duration + 60)
    finally:
        _stop(proc)
    text = out.decode(errors="replace")
    line = next((x for x in text.splitlines() if x.startswith("WRK-JSON ")), None)
    if proc.returncode or line is None:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{text[-2000:]}")
    data = json.loads(line.removeprefix("WRK-JSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors={k: v for k, v in data["errors"].items() if v},
    )


# --- latency, one request at a time -------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection; times each request from send to last byte."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def get(self, path: str) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            raise
        return time.perf_counter() - started, response.status, body

    def close(self) -> None:
        self.conn.close()


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` of 100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> tuple[float, float, float]:
    """(p50, p95, mean) in milliseconds."""
    return (
        percentile(seconds, 50) * 1000,
        percentile(seconds, 95) * 1000,
        statistics.fmean(seconds) * 1000 if seconds else float("nan"),
    )


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="apcert-bench-") as tmp:
        yield Path(tmp)


def machine_description() -> str:
    import platform
    import sqlite3

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({model or platform.machine()}), usable "
        f"{sorted(CPUS)}; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; {platform.system()} {platform.release()}"
    )


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``; Ctrl-C stops it quietly, its servers with it."""
    try:
        main()
    except KeyboardInterrupt:
        _stop_all()
        print("interrupted: every server this benchmark started is stopped", file=sys.stderr)
        sys.exit(130)
