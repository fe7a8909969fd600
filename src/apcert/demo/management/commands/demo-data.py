"""``apcert demo-data --certificates N --seed S [--as-of YYYY-MM-DD] [--if-empty]``: build the
demo data set."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apcert.audit.models import AuditEvent
from apcert.demo.bulk import WriterFailed
from apcert.demo.generate import (
    DemoDataError,
    demo_data_generate,
    demo_data_present,
    demo_data_reference_date,
    demo_derived_complete,
    demo_derived_missing,
    demo_load_stopped_in_rows,
)
from apcert.demo.site import demo_site_conflict


def _reference_date(value: str | None) -> dt.date:
    if not value:
        return timezone.localdate()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"demo-data: --as-of '{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-06-30."
        ) from None


class Command(BaseCommand):
    help = (
        "Build a realistic, deterministic data set: CBs in several countries, organizations "
        "with sites, applications, assessments with findings, and certificates in every "
        "status with their issues, status history and audit trail. Dates run up to the "
        "reference date (--as-of, today by default) and never past it; the same "
        "--certificates, --seed and --as-of give the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--certificates", type=int, default=300, help="how many certificates (default 300)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            help="the reference date (YYYY-MM-DD): nothing happens after it (default: today)",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing, successfully, if the register already holds certificates",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _reference_date(options["as_of"])
        stopped = demo_load_stopped_in_rows()
        if stopped is not None:
            raise CommandError(f"demo-data: {stopped}")
        if options["if_empty"] and demo_data_present():
            conflict = demo_site_conflict()
            if conflict is not None:
                raise CommandError(f"demo-data: {conflict}")
            missing = demo_derived_missing()
            if missing:
                # An earlier run stopped after writing the rows, while building these.
                self.stdout.write(
                    f"demo-data: completing what an earlier run left unbuilt: {', '.join(missing)}"
                )
                demo_derived_complete(missing, None if options["quiet"] else sys.stderr)
            made = demo_data_reference_date()
            self.stdout.write(
                "demo-data: certificates already exist"
                + (f" (demo data up to {made.isoformat()})" if made is not None else "")
                + "; nothing to do (--if-empty)"
            )
            if not AuditEvent.objects.filter(action="demo.load").exists():
                # Each chunk commits on its own: a run that was stopped leaves a smaller,
                # consistent data set, but not the one asked for.
                self.stderr.write(
                    "demo-data: note: no finished demo load is recorded; if an earlier run was "
                    "interrupted, delete the database (./var/apcert.sqlite3) and run again"
                )
            return
        started = time.monotonic()
        try:
            report = demo_data_generate(
                certificates=options["certificates"],
                seed=options["seed"],
                reference_date=as_of,
                progress=None if options["quiet"] else sys.stderr,
            )
        except (DemoDataError, WriterFailed) as exc:
            raise CommandError(f"demo-data: {exc}") from None
        seconds = time.monotonic() - started
        statuses = ", ".join(f"{n} {status}" for status, n in report.by_status.items())
        total = sum(report.rows.values())
        self.stdout.write(
            f"demo data: {report.certificates} certificates ({statuses}) of "
            f"{report.organizations} organizations, {report.audit_events} audit events, "
            f"{total} rows in {seconds:.1f} s (reference date "
            f"{report.reference_date.isoformat()})"
        )
        self.stdout.write(
            "demo data: phases: "
            + ", ".join(f"{phase} {took:.1f} s" for phase, took in report.phases.items())
        )
