"""PDFs drawn in processes of their own, at a lower CPU priority than the pages.

Drawing a PDF is about a tenth of a second of pure Python. Drawn in a server process, it
would hold that process's interpreter as well as a core, and every page the process serves
meanwhile would wait for it. So a server process hands its drawings to a small pool of
processes (``PDF_DRAWS_AT_ONCE`` of them, one a core when that is 0), started on the first
drawing and niced by :data:`NICENESS`, the lowest priority
(:func:`apcert.core.processes.run_in_background`): the kernel gives the pages the core
first, and a page that wakes up hardly waits for a drawing to yield it; and the
request that waits for its PDF holds neither the core nor the interpreter meanwhile.

A process of the pool is started clean ("forkserver": never a copy of the server's threads),
sets Django up with the same settings, reads the same database as the process that started
it (by the very name it uses, a test database included), and ends with the process that
started it, killed outright included (:func:`~apcert.core.processes.end_with_starter`).

A drawing that does not end within ``PDF_DRAW_TIMEOUT`` seconds, or whose process dies, stops
with :class:`DrawingStopped`: the pool is killed whole, and the next drawing starts a new
one. The caller keeps nothing of a drawing that stopped. The pool is shut down when the
process exits, before multiprocessing waits for the process's children.

Drawing stays in the calling process (:func:`in_processes` is false) when
``PDF_DRAW_PROCESS`` is off, where processes cannot be started so (Windows), when no other
process can see the database (SQLite in memory, as the tests have it), and inside a
transaction (another process would not see what it has not committed).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from apcert.core.processes import start_django_process

log = logging.getLogger(__name__)

#: How much lower than the server the drawing processes run (``nice`` adds this).
NICENESS = 19
#: How the drawing processes are started: clean, never a fork of a process with threads.
START_METHOD = "forkserver"


@dataclass(frozen=True)
class Drawn:
    """What a drawing made, and the process that made it."""

    content: bytes
    pid: int


class DrawingStopped(Exception):
    """The drawing did not end: its process died, or it took longer than allowed."""


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
#: What the pool was started for: its size and the database its processes read.
_pool_for: tuple[int, str] | None = None


def _database_name() -> str:
    return str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])


def in_processes() -> bool:
    """Whether a drawing is handed to the pool rather than made in this process."""
    if not settings.PDF_DRAW_PROCESS or START_METHOD not in multiprocessing.get_all_start_methods():
        return False
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        return False
    name = _database_name()
    return not (connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name))


def _size() -> int:
    return settings.PDF_DRAWS_AT_ONCE or os.cpu_count() or 1


def _settings_module() -> str:
    return os.environ.get("DJANGO_SETTINGS_MODULE", "apcert.settings")


def _run(job: Callable[..., bytes], args: tuple[Any, ...]) -> Drawn:
    """In a process of the pool: ``job(*args)``, with this process's id."""
    return Drawn(job(*args), os.getpid())


def _current_pool() -> ProcessPoolExecutor:
    global _pool, _pool_for
    wanted = (_size(), _database_name())
    with _lock:
        old = _pool if _pool is not None and _pool_for != wanted else None
        if old is not None:
            _pool = None
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=wanted[0],
                mp_context=multiprocessing.get_context(START_METHOD),
                initializer=start_django_process,
                initargs=(_settings_module(), wanted[1], NICENESS),
            )
            _pool_for = wanted
        pool = _pool
    if old is not None:
        old.shutdown(wait=True, cancel_futures=True)
    return pool


def draw(job: Callable[..., bytes], *args: Any) -> Drawn:
    """``job(*args)`` run by a process of the pool (``job`` a module's function, ``args``
    small and picklable), waited for at most ``PDF_DRAW_TIMEOUT`` seconds. Raises
    :class:`DrawingStopped` when its process died or the time ran out (the pool is then
    replaced); an exception ``job`` raises is raised here."""
    pool = _current_pool()
    try:
        future = pool.submit(_run, job, args)
    except RuntimeError as exc:  # broken, or replaced by another thread meanwhile
        _replace(pool)
        raise DrawingStopped(f"the drawing processes had stopped: {exc}") from exc
    timeout = settings.PDF_DRAW_TIMEOUT
    done, _ = concurrent.futures.wait([future], timeout=timeout)
    if not done:
        _replace(pool)
        raise DrawingStopped(f"nothing was drawn within {timeout} s")
    try:
        return future.result()
    except BrokenProcessPool as exc:
        _replace(pool)
        raise DrawingStopped("a drawing process died") from exc


def _replace(pool: ProcessPoolExecutor) -> None:
    """Kill ``pool``'s processes (one may hang) and forget it: the next drawing starts a
    new pool. The drawings still in it stop with :class:`DrawingStopped`."""
    global _pool
    with _lock:
        current = _pool is pool
        if current:
            _pool = None
    if current:  # (else another drawing of the same pool replaced it already)
        log.warning("the PDF drawing processes are stopped and will be started again")
    _kill(pool)
    pool.shutdown(wait=False, cancel_futures=True)


def _processes(pool: ProcessPoolExecutor | None) -> dict[int, BaseProcess]:
    return dict(getattr(pool, "_processes", None) or {})


def _kill(pool: ProcessPoolExecutor) -> None:
    for process in _processes(pool).values():
        if process.is_alive():
            process.kill()


def pids() -> list[int]:
    """The ids of the pool's live processes (none before the first drawing)."""
    with _lock:
        pool = _pool
    return sorted(pid for pid, process in _processes(pool).items() if process.is_alive())


#: How long the pool's processes are given to end once told to, when their server's
#: process exits, before they are killed.
SHUTDOWN_SECONDS = 2.0


def shutdown() -> None:
    """Stop the pool, if started, when the process exits: by then no request waits for a
    drawing (a server's worker exits after its last answer), so the processes are ended at
    once (SIGTERM, which ends them without running any code of theirs) rather than asked
    and waited for: niced as they are, on a busy machine they could take longer to get
    round to ending than the server gives its worker to stop. Killed if still there after
    ``SHUTDOWN_SECONDS``. A drawing cut short leaves nothing behind: nothing is kept of
    one that did not finish."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    processes = list(_processes(pool).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    waiting = {process.sentinel: process for process in processes}
    deadline = time.monotonic() + SHUTDOWN_SECONDS
    while waiting and (left := deadline - time.monotonic()) > 0:
        for ended in multiprocessing.connection.wait(list(waiting), timeout=left):
            del waiting[ended]  # type: ignore[arg-type]
    for process in waiting.values():
        process.kill()


# When the process exits. In a process that multiprocessing started (a server's worker),
# multiprocessing first waits for that process's children, which wait for work: the pool
# must be stopped before, by one of multiprocessing's own finalizers, and before the others
# (priority 10 closes the queue through which the pool tells its processes to stop).
atexit.register(shutdown)
multiprocessing.util.Finalize(None, shutdown, exitpriority=100)
