"""Whole-register exports kept on disk and built outside the web process.

An export's content is a function of the register's records, the day its statuses are told
for, the application's version and its format, exactly as the register's HTTP validator is
(:mod:`apcert.register.caching`): every change of public data writes an audit event. So an
export is built once per (format, day, register version, application version), by a process
of its own (:mod:`apcert.register.export_builder`) at a lower CPU priority, into
``KEPT_EXPORTS_DIR`` (``VAR_DIR/cache/exports``), a directory each app server keeps for
itself (the files are derived data). Its names are in :mod:`apcert.register.export_files`.

A request for an export:

* finds the kept file of the current version: sends it, 64 KiB a read, with its length;
* else finds a build of it under way (in this process or another of the server): sends
  the part file as the builder writes it, waiting at its end until more is written, and
  ends once the builder has renamed it whole and every byte is sent. Every request that
  comes meanwhile sends the same build. If the builder dies before the end, the answer is
  broken off (:class:`BuildFailed`: the client sees a cut download, never a short export
  that looks whole) and the failure is logged; the next request starts a new build;
* else starts the build, and sends it as above.

A file of yesterday is never sent today: the day is part of the export's name, and the
builder tells the statuses of that day.

Builders are started by one thread of the web process, which lives as long as the process:
a builder asks the kernel to kill it when that thread's process dies (Linux's parent-death
signal, which follows the thread that started the child), and also checks its parent
between chunks elsewhere.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from apcert import __version__
from apcert.audit.selectors import last_change
from apcert.core.http_cache import tag_of
from apcert.register.export_files import KeptExport, building

log = logging.getLogger(__name__)

#: Bytes read from an export's file at a time.
READ_SIZE = 64 * 1024
#: Seconds a request waits at the end of a part file before it looks again.
POLL_SECONDS = 0.05
#: Seconds a request waits for a build to start writing before it gives up (503).
START_SECONDS = 15.0


class BuildFailed(OSError):
    """The builder of the export being sent ended before the export was whole."""


def current(directory: Path, export_format: str, day: dt.date) -> KeptExport:
    """The export of ``export_format`` that tells the register as it stands for ``day``:
    named after the latest audit event, the day and the application's version."""
    last = last_change()
    tag = tag_of(
        (__version__, day.isoformat(), last.hash if last is not None else "", export_format)
    )
    return KeptExport(directory, export_format, day, tag)


# --- the builders ---------------------------------------------------------------------------


class _Starter:
    """The one thread of this process that starts builders and reaps them: at most one
    builder of an export at a time from this process (the lock rules between processes)."""

    def __init__(self) -> None:
        self._asked: queue.Queue[KeptExport] = queue.Queue()
        self._running: dict[KeptExport, subprocess.Popen[bytes]] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        #: How many builders this process has started (for the operators and the tests).
        self.started = 0

    def ask(self, export: KeptExport) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # none yet, or forked
                self._asked = queue.Queue()
                self._running = {}
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="export-builders", daemon=True
                )
                self._thread.start()
        self._asked.put(export)

    def _run(self) -> None:
        asked, running = self._asked, self._running
        while True:
            try:
                export: KeptExport | None = asked.get(timeout=1)
            except queue.Empty:
                export = None
            for key, process in list(running.items()):
                if process.poll() is not None:
                    del running[key]
            if export is None or export in running:
                continue
            try:
                running[export] = self._start(export)
            except OSError:
                log.exception("could not start the build of %s", export.kept)

    def _start(self, export: KeptExport) -> subprocess.Popen[bytes]:
        argv = [
            sys.executable,
            "-m",
            "apcert.register.export_builder",
            "--format",
            export.format,
            "--on",
            export.day.isoformat(),
            "--tag",
            export.tag,
            "--directory",
            str(export.directory),
            "--parent",
            str(os.getpid()),
        ]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)  # noqa: S603 - our module
        self.started += 1
        return process

    def pids(self) -> list[int]:
        """The builders this process has started that it has not reaped yet."""
        return [process.pid for process in list(self._running.values())]


builders = _Starter()


# --- sending --------------------------------------------------------------------------------


class KeptFile:
    """A whole kept export, read 64 KiB at a time; ``length`` is its size."""

    def __init__(self, file: io.FileIO) -> None:
        self._file = file
        self.length = os.fstat(file.fileno()).st_size

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = self._file.read(READ_SIZE)
        if not data:
            self.close()
            raise StopIteration
        return data

    def close(self) -> None:
        self._file.close()


class GrowingFile:
    """The part file of a build under way, sent as it grows: at its end, wait until the
    builder writes more; done once the builder has renamed it whole and all is sent. If the
    builder ends without renaming it, :class:`BuildFailed` is raised."""

    length = None

    def __init__(self, file: io.FileIO, export: KeptExport, pid: int) -> None:
        self._file = file
        self._export = export
        self._pid = pid
        stat = os.fstat(file.fileno())
        self.inode = (stat.st_dev, stat.st_ino)
        self._whole = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while True:
            data = self._file.read(READ_SIZE)
            if data:
                return data
            if self._whole:
                self.close()
                raise StopIteration
            if self._renamed():
                self._whole = True  # read what was written since, then stop
                continue
            if not building(self._pid, self._export) and not self._renamed():
                self.close()
                log.error(
                    "the build of %s ended before it was whole (builder %d); the download "
                    "was broken off",
                    self._export.kept,
                    self._pid,
                )
                raise BuildFailed(f"the build of {self._export.kept.name} did not finish")
            time.sleep(POLL_SECONDS)

    def _renamed(self) -> bool:
        try:
            stat = self._export.kept.stat()
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) == self.inode

    def close(self) -> None:
        self._file.close()


def _open(path: Path) -> io.FileIO | None:
    try:
        return path.open("rb", buffering=0)
    except FileNotFoundError:
        return None


def opened(export: KeptExport, wait: float = START_SECONDS) -> KeptFile | GrowingFile | None:
    """The export to send: its kept file, else the part of the build under way, started
    here if none is. ``None`` if no build has started writing within ``wait`` seconds."""
    export.directory.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait
    while True:
        whole = _open(export.kept)
        if whole is not None:
            return KeptFile(whole)
        for pid, path in export.parts():
            if building(pid, export):
                part = _open(path)
                if part is not None:
                    return GrowingFile(part, export, pid)
                break  # renamed meanwhile: the kept file is there now
        else:
            builders.ask(export)
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_SECONDS)


__all__ = [
    "READ_SIZE",
    "BuildFailed",
    "GrowingFile",
    "KeptFile",
    "builders",
    "current",
    "opened",
]
