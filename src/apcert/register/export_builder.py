"""The process that builds one kept export of the register, started by the web process
(:mod:`apcert.register.kept_exports`)::

    python -m apcert.register.export_builder --format csv --on 2026-12-07 \\
        --tag <32 hex digits> --directory DIR --parent PID

It lowers its own CPU priority first (``nice`` + :data:`NICENESS`, the lowest:
:func:`apcert.core.processes.run_in_background`), so that the pages the
same server answers keep the cores first, and asks to be killed when its parent (the web
process) dies, so that it is never left running alone. Then it takes the export's lock
without waiting: if another builder holds it, or the export is already kept, it ends at
once (exit 0). Otherwise it writes the export to its part file, flushed chunk by chunk
(requests send the part as it grows), syncs it, and renames it to the kept name: only a
whole export ever bears that name. A builder killed outright leaves its part behind, which
is never sent (its builder is gone) and which the next builder of that export removes.
Once its export is in place it removes the older files of the same format.

The statuses are those of the day ``--on`` (the day the request read, which is in the
export's name), not of the builder's own clock. The register is read as it stands while
the build runs; a change meanwhile writes an audit event, so the next request asks for
another version and a new build.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from apcert.core.processes import die_with_parent, run_in_background
from apcert.register.export_files import FORMAT_NAMES, TAG, KeptExport, is_kept, remove_unused

#: How much lower than the web process a builder runs (added to its ``nice`` value).
NICENESS = 19


class ParentGone(Exception):
    """The web process that started the build has ended: nobody waits for it any more."""


def _day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _tag(raw: str) -> str:
    if not TAG.match(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a tag of 32 hexadecimal digits")
    return raw


def _directory(raw: str) -> Path:
    path = Path(raw)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"there is no directory {raw}")
    return path


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m apcert.register.export_builder",
        description="Build one kept export of the public register (started by the server).",
    )
    parser.add_argument("--format", choices=FORMAT_NAMES, required=True)
    parser.add_argument("--on", type=_day, required=True, help="the day of the statuses")
    parser.add_argument("--tag", type=_tag, required=True, help="the register version")
    parser.add_argument("--directory", type=_directory, required=True)
    parser.add_argument("--parent", type=int, required=True, help="the web process's pid")
    return parser.parse_args(argv)


def _texts(export: KeptExport) -> Iterator[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apcert.settings")
    import django

    django.setup()
    from apcert.register import exports

    return exports.FORMATS[export.format].chunks(on=export.day)


def _write(export: KeptExport, parent: int, started: float) -> None:
    """Write the export to this builder's part file, then rename it to the kept name."""
    remove_unused([path for _pid, path in export.parts()])  # left by builders now gone
    part = export.part(os.getpid())
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            for text in _texts(export):
                if os.getppid() != parent:
                    raise ParentGone
                out.write(text.encode("utf-8"))
                out.flush()  # readers send what is written so far
            os.fsync(out.fileno())
        os.utime(part, (started, started))
        os.replace(part, export.kept)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    with contextlib.suppress(OSError):
        directory = os.open(export.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _remove_older(export: KeptExport, started: float) -> None:
    """Remove this format's files of other exports: kept files of builds started earlier,
    and the locks and parts no builder uses. A kept file of a build started later stays
    (it is the newer)."""
    others = export.others()
    older = []
    for path in others:
        if is_kept(path):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < started:
                    older.append(path)
        else:
            older.append(path)
    remove_unused(older)


def build(export: KeptExport, parent: int) -> bool:
    """Build ``export`` unless another builder is at it or it is kept already: whether
    this process built it."""
    lock = os.open(export.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if export.kept.exists():
            return False
        started = time.time()
        _write(export, parent, started)
        _remove_older(export, started)
        return True
    finally:
        os.close(lock)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    run_in_background(NICENESS)
    die_with_parent(args.parent)
    export = KeptExport(args.directory, args.format, args.on, args.tag)
    try:
        build(export, args.parent)
    except ParentGone:
        return 1
    except Exception as error:
        print(f"export build of {export.kept} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
