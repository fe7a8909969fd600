"""``apcert export --format csv|jsonl [--output FILE] [--quiet]``: the public register's bulk
export, the same content as ``/register/export.csv`` and ``/register/export.jsonl``."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apcert.register import exports


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


class Command(BaseCommand):
    help = (
        "Export every public certificate of the register (no drafts, public fields only) as "
        "CSV or JSON Lines, to standard output or to a file. A file is written under a "
        "temporary name beside it and renamed when complete, so an interrupted export never "
        "leaves a half file; a progress bar goes to standard error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format", choices=sorted(exports.FORMATS), required=True, help="csv or jsonl"
        )
        parser.add_argument(
            "--output", type=Path, help="the file to write (default: standard output)"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        export_format = exports.FORMATS[options["format"]]
        output: Path | None = options["output"]
        if output is None:
            for _count, text in export_format.parts(exports.CHUNK):
                self.stdout.write(text, ending="")
            return
        if output.is_dir():
            raise CommandError(f"export: {output} is a directory; name a file.")
        if not output.parent.is_dir():
            raise CommandError(f"export: there is no directory {output.parent}.")
        total = exports.public_certificate_count()
        written = self._write(export_format, output, total, quiet=options["quiet"])
        self.stdout.write(f"export: {written} certificates written to {output}")

    def _write(
        self, export_format: exports.ExportFormat, output: Path, total: int, *, quiet: bool
    ) -> int:
        handle, temporary = tempfile.mkstemp(
            dir=output.parent, prefix=f".{output.name}.", suffix=".part"
        )
        written = 0
        try:
            with (
                os.fdopen(handle, "w", encoding="utf-8", newline="") as file,
                tqdm(
                    total=total,
                    desc="export",
                    unit="cert",
                    file=sys.stderr,
                    disable=quiet,
                    mininterval=0.5,
                ) as bar,
            ):
                for count, text in export_format.parts(exports.CHUNK):
                    file.write(text)
                    written += count
                    bar.update(count)
                file.flush()
                os.fsync(file.fileno())
            # mkstemp makes the file readable by its owner only: give it the mode the file
            # it replaces had, or that of a new file.
            os.chmod(temporary, _mode_for(output))
            os.replace(temporary, output)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return written
