"""``python -m apcert.testing.leftovers NAME=VALUE``: the processes a test run left behind.

The test run puts a variable of its own in its environment (``APCERT_TEST_RUN=<random>``);
every process a test starts inherits it, servers, workers, browsers and database servers
included, and keeps it when it detaches or is orphaned. Once the run is over, any process
that still carries it is a leftover: this lists each one (its id and command line), stops it
(SIGTERM, then SIGKILL after a grace period) and exits 1. Exit 0: none was left.

Linux only (it reads ``/proc``); elsewhere it says so and exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Leftover:
    pid: int
    command: str


def _environ_has(pid_dir: Path, marker: bytes) -> bool:
    try:
        return marker in (pid_dir / "environ").read_bytes().split(b"\0")
    except OSError:  # gone meanwhile, or not ours to read
        return False


def _command(pid_dir: Path) -> str:
    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


def find(marker: str, *, exclude: set[int] | None = None) -> list[Leftover]:
    """Every live process (zombies aside) whose environment holds ``marker`` exactly."""
    skip = {os.getpid(), *(exclude or set())}
    wanted = marker.encode()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        if _is_zombie(entry) or not _environ_has(entry, wanted):
            continue
        found.append(Leftover(int(entry.name), _command(entry)))
    return sorted(found, key=lambda leftover: leftover.pid)


def _is_zombie(pid_dir: Path) -> bool:
    try:
        stat = (pid_dir / "stat").read_text()
    except OSError:
        return True
    # The state follows the command name, which is in brackets and may hold spaces.
    return stat[stat.rfind(")") + 2 :].startswith("Z")


def stop(leftovers: list[Leftover], *, grace: float = 5.0) -> None:
    """SIGTERM each, then SIGKILL those still alive after ``grace`` seconds."""
    for leftover in leftovers:
        _signal(leftover.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = [leftover.pid for leftover in leftovers]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if not _is_zombie(PROC / str(pid))]
    for pid in alive:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or "=" not in argv[1]:
        print("usage: python -m apcert.testing.leftovers NAME=VALUE", file=sys.stderr)
        return 2
    if not PROC.is_dir():
        print("no /proc here: leftover processes are not checked", file=sys.stderr)
        return 0
    # The shell that runs this check carries the marker too, and so may its parents.
    leftovers = find(argv[1], exclude=_ancestors())
    if not leftovers:
        print("no process of the test run is left")
        return 0
    print(f"!! {len(leftovers)} process(es) of the test run still running after it ended:")
    for leftover in leftovers:
        print(f"!!   {leftover.pid}: {leftover.command[:200]}")
    stop(leftovers)
    print("!! stopped them; a test that starts a process must stop it, whatever happens")
    return 1


def _ancestors() -> set[int]:
    pids = set()
    pid = os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            break
        pid = int(stat[stat.rfind(")") + 2 :].split()[1])
    return pids


if __name__ == "__main__":
    sys.exit(main(sys.argv))
