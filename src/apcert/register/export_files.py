"""The files of the kept whole-register exports, as the web process that sends them
(:mod:`apcert.register.kept_exports`) and the process that builds them
(:mod:`apcert.register.export_builder`) both know them. Nothing here imports Django: the
builder takes its lock before it sets Django up.

One export is one format of the register for one day and one register version (the tag), in
one directory that each app server keeps for itself. Its files, all named after it:

* ``register-<day>-<tag>.<format>``: the whole export, in place only once whole (renamed
  from its part file). Its modification time is when its build started, so that of two
  kept files of a format the later build is the newer.
* ``register-<day>-<tag>.<format>.<pid>.part``: the export being written by the builder
  ``pid``. A part whose builder has died (killed outright) is never sent, and the next
  builder of the same export removes it.
* ``register-<day>-<tag>.<format>.lock``: held (``flock``, exclusive) by the one builder
  of that export; a second builder that cannot take it ends at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

#: The formats an export is kept in (those of :data:`apcert.register.exports.FORMATS`).
FORMAT_NAMES = ("csv", "jsonl")

_NAME = re.compile(
    r"^register-(?P<day>\d{4}-\d{2}-\d{2})-(?P<tag>[0-9a-f]{32})\.(?P<format>csv|jsonl)"
    r"(?:\.(?P<pid>\d+)\.part|(?P<lock>\.lock))?$"
)
#: A register version's tag: 32 hexadecimal digits (:func:`apcert.core.http_cache.tag_of`).
TAG = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class KeptExport:
    """One export (format, day, register version) and the names of its files."""

    directory: Path
    format: str
    day: dt.date
    tag: str

    @property
    def stem(self) -> str:
        return f"register-{self.day.isoformat()}-{self.tag}.{self.format}"

    @property
    def kept(self) -> Path:
        return self.directory / self.stem

    @property
    def lock(self) -> Path:
        return self.directory / f"{self.stem}.lock"

    def part(self, pid: int) -> Path:
        return self.directory / f"{self.stem}.{pid}.part"

    def parts(self) -> list[tuple[int, Path]]:
        """The part files of this export, with the pid of the builder of each."""
        found = []
        for path in self.directory.glob(f"{self.stem}.*.part"):
            match = _NAME.match(path.name)
            if match is not None and match["pid"] is not None:
                found.append((int(match["pid"]), path))
        return found

    def others(self) -> list[Path]:
        """The files of this format's other exports (other days, other versions)."""
        return [
            path
            for path in self.directory.glob(f"register-*.{self.format}*")
            if (match := _NAME.match(path.name)) is not None
            and match["format"] == self.format
            and not path.name.startswith(self.stem)
        ]


def is_kept(path: Path) -> bool:
    """Whether ``path`` is named as a whole kept export."""
    match = _NAME.match(path.name)
    return match is not None and match["pid"] is None and match["lock"] is None


def part_pid(path: Path) -> int | None:
    """The pid of the builder that writes the part file ``path`` (``None``: not a part)."""
    match = _NAME.match(path.name)
    return int(match["pid"]) if match is not None and match["pid"] is not None else None


def is_lock(path: Path) -> bool:
    match = _NAME.match(path.name)
    return match is not None and match["lock"] is not None


def alive(pid: int) -> bool:
    """Whether the process ``pid`` runs (neither gone nor a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    return True


def lock_held(lock: Path) -> bool:
    """Whether a builder holds the lock file ``lock``. Asked without waiting; a builder
    that starts at that very instant may find the lock taken and end, and is started
    again by the next request that finds no build under way."""
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def building(pid: int, export: KeptExport) -> bool:
    """Whether the builder ``pid`` still writes ``export``: it runs and holds the lock."""
    return alive(pid) and lock_held(export.lock)


def remove_unused(paths: list[Path]) -> None:
    """Remove those of ``paths`` no builder uses: a lock nobody holds, a part whose builder
    has died, any kept file. A file already gone is no error."""
    for path in paths:
        pid = part_pid(path)
        if pid is not None and alive(pid):
            continue
        if is_lock(path):
            _remove_free_lock(path)
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _remove_free_lock(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a builder holds it
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    finally:
        os.close(fd)


__all__ = [
    "FORMAT_NAMES",
    "TAG",
    "KeptExport",
    "alive",
    "building",
    "is_kept",
    "is_lock",
    "lock_held",
    "part_pid",
    "remove_unused",
]
