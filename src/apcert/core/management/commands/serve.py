"""``apcert serve``: serve apcert over WSGI with granian (not Django's runserver).

With ``--with-worker`` the background worker (``apcert worker``: the daily sweep and the
notifications) runs beside the server under this one command, which stays in front of both:
a stop (Ctrl+C, SIGTERM, SIGHUP) stops both, and either one ending stops the other.

No process outlives the command on Linux, however it ends: granian's own worker processes
die with granian's main process (:mod:`apcert.served`), and with ``--with-worker`` the
server and the worker die with this command (the parent-death signal).

The server's worker processes count their requests for ``/metrics`` in files of a directory
they share (:mod:`apcert.core.metrics`): ``PROMETHEUS_MULTIPROC_DIR`` if set, else
``APCERT_VAR_DIR/metrics``. Each start empties it, so that the counts of a server that has
stopped are not added to the new one's (Prometheus sees a restart as counters going back to
zero, as it should).

The server's processes draw certificate PDFs in processes of their own, at a lower CPU
priority (``APCERT_PDF_DRAW_PROCESS``, on here unless set otherwise).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apcert.core.processes import PR_SET_PDEATHSIG, SERVER_PID_ENV

#: The signals that mean "stop": each is passed on to both processes as SIGTERM.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How long a process may take to stop gracefully before it is killed.
STOP_SECONDS = 20.0
#: How long granian gives its workers to stop gracefully before it kills them (within
#: STOP_SECONDS, so that granian itself stops in time).
WORKERS_KILL_SECONDS = 10
#: prometheus_client's variable naming the directory of its multiprocess mode.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: The switch of the PDF drawing processes, on for the server's processes unless set.
PDF_DRAW_PROCESS_VARIABLE = "APCERT_PDF_DRAW_PROCESS"


class Command(BaseCommand):
    help = "Serve apcert with the granian WSGI server, with the background worker if asked."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--threads", type=int, default=4, help="blocking threads a worker")
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="also run `apcert worker` (daily sweep, notifications) until the server stops",
        )
        parser.add_argument(
            "--worker-log",
            metavar="FILE",
            help="with --with-worker: append the worker's output to FILE instead of this "
            "terminal (the console e-mail backend prints every e-mail there)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        granian = shutil.which("granian", path=os.path.dirname(sys.executable)) or shutil.which(
            "granian"
        )
        if granian is None:
            self.stderr.write("granian is not installed in this environment")
            sys.exit(1)
        argv = [
            granian,
            "--interface",
            "wsgi",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(options["workers"]),
            "--blocking-threads",
            str(options["threads"]),
            "--static-path-route",
            "/" + settings.STATIC_URL.strip("/"),
            "--static-path-mount",
            str(settings.STATIC_ROOT),
            # A worker that does not stop within this after a stop is asked is killed.
            "--workers-kill-timeout",
            str(WORKERS_KILL_SECONDS),
            # Each worker calls the factory, which first ties its life to granian's.
            "--factory",
            "apcert.served:application",
        ]
        # The server's processes draw certificate PDFs in niced processes of their own
        # (apcert.documents.drawing) unless the environment says otherwise.
        if not os.environ.get(PDF_DRAW_PROCESS_VARIABLE, "").strip():
            os.environ[PDF_DRAW_PROCESS_VARIABLE] = "1"
        # Read by prometheus_client in each of the server's processes, which inherit it.
        os.environ[METRICS_DIR_VARIABLE] = str(metrics_directory())
        self.stdout.write(
            f"apcert is served on http://{options['host']}:{options['port']}/ (Ctrl+C stops it)"
        )
        self.stdout.flush()
        if not options["with_worker"]:
            # granian takes this process's place, and its pid: its workers die with it.
            os.environ[SERVER_PID_ENV] = str(os.getpid())
            os.execv(granian, argv)  # noqa: S606 - replaces this process with the server
        worker = [sys.executable, "-m", "apcert", "worker"]
        log = options["worker_log"]
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            self.stdout.write(f"the worker runs beside it; its output goes to {log}")
        else:
            self.stdout.write("the worker runs beside it")
        self.stdout.flush()
        with open(log, "ab") if log else contextlib.nullcontext() as out:
            code = run_together(
                [("server", argv, None), ("worker", worker, out)], say=self.stderr.write
            )
        sys.exit(code)


def metrics_directory() -> Path:
    """The directory of the server processes' request counts, made and emptied."""
    path = Path(settings.METRICS_DIR or settings.VAR_DIR / "metrics")
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    return path


def _stop_with(parent: int) -> Callable[[], None] | None:
    """What a child runs before it starts, on Linux: ask the kernel for SIGTERM when this
    process dies, even killed outright, so that no server or worker outlives it."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child must not load libraries

    def child() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)
        # The server's own workers die with it in turn (apcert.served).
        os.environ[SERVER_PID_ENV] = str(os.getpid())

    return child


def run_together(
    commands: list[tuple[str, list[str], IO[bytes] | None]], *, say: Callable[[str], Any]
) -> int:
    """Run ``commands`` (name, argv, output or None for this terminal) side by side until a
    stop signal comes or one of them ends, then stop the others. Returns 0 after a stop
    that every process obeyed in time, 1 after one that had to be forced; when one of them
    ended first, its exit code (1 for 0: neither is meant to end on its own).

    Each runs in its own process group, so that Ctrl+C reaches this process only and each
    child gets one SIGTERM from it: a second signal would make the task worker abandon the
    task it is running."""
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    stop_asked = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_asked
        stop_asked = True
        for _name, process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    try:
        preexec = _stop_with(os.getpid())
        for name, argv, out in commands:
            if stop_asked:
                break
            process = subprocess.Popen(  # noqa: S603 - our own server and command
                argv,
                stdout=out,
                stderr=out,
                process_group=0,
                preexec_fn=preexec,  # one thread here, and it only calls prctl
            )
            running.append((name, process))
        first: tuple[str, int] | None = None
        while first is None and not stop_asked:
            for name, process in running:
                code = process.poll()
                if code is not None:
                    first = (name, code)
                    break
            else:
                time.sleep(0.2)
        if first is not None and not stop_asked:
            say(f"the {first[0]} stopped (exit code {first[1]}); stopping the rest")
            stop(signal.SIGTERM, None)
        deadline = time.monotonic() + STOP_SECONDS
        for name, process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"the {name} did not stop within {STOP_SECONDS:.0f} s; killing it")
                process.kill()
                process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if first is not None:
        code = first[1]
        # Ended by a signal: the shell's convention, 128 + the signal's number.
        return code if code > 0 else 128 - code if code < 0 else 1
    graceful = (0, -signal.SIGTERM)
    return 0 if all(process.returncode in graceful for _name, process in running) else 1
