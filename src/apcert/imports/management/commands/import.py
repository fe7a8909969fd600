"""``apcert import FILE --cb CODE|--all --by USER [--dry-run] [--format csv|xlsx]
[--report FILE.csv] [--quiet]``: import an existing register's certificates."""

from __future__ import annotations

import csv
import itertools
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apcert.accounts.models import User
from apcert.bodies.models import CertificationBody
from apcert.core.errors import DomainError
from apcert.imports.reader import FORMATS
from apcert.imports.services import ImportReport, register_import

#: Exit codes: written (or nothing to write), problems found (nothing written), refused.
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_REFUSED = 2

PHASES = {
    "check": "check",
    "write": "write new",
    "correct": "correct",
    "search index": "search index",
}


class Command(BaseCommand):
    help = (
        "Import certificates of an existing register from a CSV or XLSX file (one row per "
        "certificate and scope line; 'apcert import-template' writes the template). The file "
        "is checked whole first and every problem reported row by row (row, column, code, "
        "message); then, unless --dry-run or a problem was found, it is written in one "
        "transaction: every row or none. The same file again changes nothing; a corrected "
        "file changes only what it corrects. Exit status: 0 written or nothing to write, 1 "
        "problems found (nothing written), 2 refused (unknown user or CB, no right)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--cb", metavar="CODE", help="rows of this CB only")
        which.add_argument("--all", action="store_true", help="rows of any CB (Secretariat)")
        parser.add_argument("--by", required=True, metavar="USER", help="who imports")
        parser.add_argument("--dry-run", action="store_true", help="check only; write nothing")
        parser.add_argument("--format", choices=FORMATS, help="default: from the file")
        parser.add_argument(
            "--report",
            metavar="FILE.csv",
            help="write the problems there (row,column,code,message)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["by"]).first()
        if user is None:
            raise CommandError(
                f"import: --by: no account has the username {options['by']!r}.",
                returncode=EXIT_REFUSED,
            )
        cb = None
        if options["cb"]:
            cb = CertificationBody.objects.filter(code__iexact=options["cb"].strip()).first()
            if cb is None:
                raise CommandError(
                    f"import: there is no certification body {options['cb']!r}.",
                    returncode=EXIT_REFUSED,
                )
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"import: {exc}", returncode=EXIT_REFUSED) from None
        bars: dict[str, Any] = {}
        started: dict[str, float] = {}
        quiet = options["quiet"]

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                started[phase] = time.monotonic()
                for other in bars.values():
                    other.close()
                bar = bars[phase] = tqdm(
                    total=total or None, desc=PHASES.get(phase, phase), unit="cert"
                    if phase != "check" else "row", file=self.stderr, disable=quiet,
                    mininterval=0.5,
                )  # fmt: skip
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        def commit_started() -> None:
            self.stderr.write("import: commit started")
            self.stderr.flush()

        try:
            report = register_import(
                actor=user,
                data=data,
                file_name=path.name,
                file_format=options["format"],
                cb=cb,
                dry_run=options["dry_run"],
                progress=progress,
                on_commit_start=commit_started,
            )
        except DomainError as exc:
            raise CommandError(
                f"import: {exc.message} ({exc.code})", returncode=EXIT_REFUSED
            ) from None
        finally:
            for bar in bars.values():
                bar.close()
        started["end"] = time.monotonic()
        self._report(report, options)
        marks = list(started.items())
        if len(marks) > 1:
            self.stderr.write(
                "import: seconds by phase: "
                + ", ".join(
                    f"{PHASES.get(name, name)} {later - at:.1f}"
                    for (name, at), (_, later) in itertools.pairwise(marks)
                )
            )
        if report.problems:
            sys.exit(EXIT_PROBLEMS)

    def _report(self, report: ImportReport, options: dict[str, Any]) -> None:
        if report.problems:
            writer = csv.writer(self.stdout)
            writer.writerow(["row", "column", "code", "message"])
            for p in report.problems:
                writer.writerow(p.as_list())
        if options["report"]:
            with open(options["report"], "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["row", "column", "code", "message"])
                for p in report.problems:
                    writer.writerow(p.as_list())
        if report.problems:
            verdict = f"{len(report.problems)} problems; nothing written"
        elif options["dry_run"]:
            verdict = "no problems; dry run, nothing written"
        elif report.committed:
            verdict = "written"
        else:
            verdict = "nothing to write"
        self.stderr.write(
            f"import: {report.rows} rows, {report.certificates} certificates: {report.new} new, "
            f"{report.changed} changed, {report.unchanged} unchanged; {verdict}"
        )
