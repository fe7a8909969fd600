"""The bulk import of an existing register: check a file (the dry run), then write it, all
of it or nothing, in one transaction.

Who may import: the Secretariat, for every CB or for one; a CB's scheme manager (or its
admin), for that CB only. Rows of another CB are refused row by row
(``import.cb_not_allowed``), as every other problem is: the file is checked whole first,
and nothing is written while any problem remains.

The audit trail: one event per certificate written (``certificate.import`` for a new one,
``certificate.import_update`` for a corrected one), so that each certificate's own history
starts with its import and says which file and rows it came from; and one event
``import.commit`` for the file (its hash, the counts). A file that changes nothing writes
nothing, not even that event: running it again leaves the register and its trail as they
were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apcert.audit.services import audit_record
from apcert.bodies.models import CertificationBody
from apcert.bodies.permissions import require_cb_role
from apcert.core.errors import RuleViolation
from apcert.core.permissions import is_secretariat, require_active, require_secretariat
from apcert.imports.choices import ImportAction, ImportBatchStatus
from apcert.imports.errors import IMPORT_BATCH_NOT_CHECKED
from apcert.imports.models import ImportBatch
from apcert.imports.plan import Plan, make_plan
from apcert.imports.reader import guess_format, read_sheet
from apcert.imports.validate import CertificateFacts, Problem, check_sheet
from apcert.imports.writer import PlanWriter, Progress

if TYPE_CHECKING:
    from apcert.accounts.models import User

#: The CB roles that may import for their CB (an admin holds every role of its CB).
IMPORT_ROLES = ("scheme_manager", "admin")
#: Problems kept with a batch (the screen shows them; the command reports every one).
REPORT_LIMIT = 5000


@dataclass
class ImportReport:
    """What a dry run found, or a commit wrote."""

    rows: int = 0
    certificates: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    batch_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def import_allowed_cbs(*, actor: User, cb: CertificationBody | None) -> set[int] | None:
    """The CBs whose rows ``actor`` may import (None: every CB). ``cb`` None asks for every
    CB, which only the Secretariat may; a CB's scheme manager or admin imports for it."""
    require_active(actor)
    if cb is None:
        require_secretariat(actor)
        return None
    if not is_secretariat(actor):
        require_cb_role(actor, cb, "scheme_manager")
    return {cb.pk}


def import_check(
    *,
    actor: User,
    data: bytes,
    file_name: str = "",
    file_format: str | None = None,
    cb: CertificationBody | None,
    progress: Progress | None = None,
) -> tuple[ImportReport, Plan | None, list[CertificateFacts]]:
    """The dry run: every problem of the file, row by row, and what a commit would do.
    Writes nothing."""
    allowed = import_allowed_cbs(actor=actor, cb=cb)
    fmt = file_format or guess_format(file_name, data)
    report = ImportReport()

    def rows_read(n: int) -> None:
        if progress is not None:
            progress("check", n, 0)

    checked = check_sheet(lambda: read_sheet(data, fmt), allowed, rows_read)
    report.rows = checked.rows
    report.problems = list(checked.problems)
    report.certificates = len(checked.certificates)
    plan = None
    if checked.certificates:
        plan = make_plan([c for c in checked.certificates if c.valid])
        report.problems += plan.problems
        report.problems.sort(key=lambda p: p.row)
        report.new = plan.count(ImportAction.NEW)
        report.changed = plan.count(ImportAction.CHANGED)
        report.unchanged = plan.count(ImportAction.UNCHANGED)
    return report, plan, checked.certificates


def import_batch_record(
    *,
    actor: User,
    data: bytes,
    file_name: str,
    file_format: str,
    cb: CertificationBody | None,
    report: ImportReport,
    keep_content: bool,
) -> ImportBatch:
    """Keep a dry run's result (the screen's confirmation writes exactly this file)."""
    return ImportBatch.objects.create(
        actor=actor,
        cb=cb,
        file_name=file_name[:255],
        file_format=file_format,
        sha256=hashlib.sha256(data).hexdigest(),
        content=data if keep_content and report.ok else None,
        status=ImportBatchStatus.CHECKED if report.ok else ImportBatchStatus.FAILED,
        rows=report.rows,
        certificates=report.certificates,
        new=report.new,
        changed=report.changed,
        unchanged=report.unchanged,
        problems=[p.as_list() for p in report.problems[:REPORT_LIMIT]],
        problem_count=len(report.problems),
    )  # fmt: skip


def register_import(
    *,
    actor: User,
    data: bytes,
    file_name: str = "",
    file_format: str | None = None,
    cb: CertificationBody | None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: ImportBatch | None = None,
    on_commit_start: Callable[[], None] | None = None,
) -> ImportReport:
    """Check the file and, unless ``dry_run`` or a problem was found, write it in one
    transaction: every row or none. ``batch``: the screen's record of the dry run (made
    here when not given)."""
    fmt = file_format or guess_format(file_name, data)
    report, _, certificates = import_check(
        actor=actor, data=data, file_name=file_name, file_format=fmt, cb=cb, progress=progress
    )
    if dry_run or not report.ok or not (report.new or report.changed):
        # Nothing written, not even a record of the run: the same file again leaves the
        # database as it was. (The screen's batch, made at the upload, keeps the outcome.)
        if batch is not None:
            report.batch_id = batch.pk
            _batch_finished(batch, report)
        return report
    if on_commit_start is not None:
        on_commit_start()
    with transaction.atomic():
        if batch is None:
            # In the transaction: a commit that does not finish leaves no trace at all.
            batch = import_batch_record(
                actor=actor, data=data, file_name=file_name, file_format=fmt, cb=cb,
                report=report, keep_content=False,
            )  # fmt: skip
        report.batch_id = batch.pk
        # Planned again inside the transaction, on what it sees: what another import wrote
        # since the dry run is then unchanged here, not written twice.
        plan = make_plan([c for c in certificates if c.valid])
        if plan.problems:
            report.problems = plan.problems
            transaction.set_rollback(True)
        else:
            writer = PlanWriter(actor=actor, plan=plan, batch=batch, progress=progress)
            new = [i for i in plan.items if i.action == ImportAction.NEW]
            changed = [i for i in plan.items if i.action == ImportAction.CHANGED]
            new_ids = writer.write_new(new)
            changed_ids = writer.write_changed(changed)
            writer.finish(new_ids, changed_ids)
            report.new, report.changed = len(new), len(changed)
            report.unchanged = plan.count(ImportAction.UNCHANGED)
            report.committed = True
            ImportBatch.objects.filter(pk=batch.pk).update(
                status=ImportBatchStatus.COMMITTED,
                committed_at=timezone.now(),
                content=None,
                new=report.new,
                changed=report.changed,
                unchanged=report.unchanged,
            )
            audit_record(
                actor=actor,
                action="import.commit",
                obj=batch,
                after={
                    "file_name": batch.file_name,
                    "sha256": batch.sha256,
                    "cb": cb.code if cb is not None else None,
                    "rows": report.rows,
                    "new": report.new,
                    "changed": report.changed,
                    "unchanged": report.unchanged,
                },
                reason=f"import of {batch.file_name}",
            )
    if not report.committed and report.batch_id is not None:
        _batch_finished(batch, report)
    return report


def _batch_finished(batch: ImportBatch, report: ImportReport) -> None:
    """A run that wrote nothing: its outcome kept with the batch."""
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatchStatus.CHECKED if report.ok else ImportBatchStatus.FAILED,
        new=report.new,
        changed=report.changed,
        unchanged=report.unchanged,
        problems=[p.as_list() for p in report.problems[:REPORT_LIMIT]],
        problem_count=len(report.problems),
    )


# --- the screen: upload, dry run in the worker, confirmation, commit in the worker ---------


def import_upload(
    *, actor: User, data: bytes, file_name: str, cb: CertificationBody | None
) -> ImportBatch:
    """Keep an uploaded file and queue its dry run (the worker checks it). Refused here, with
    nothing kept, for someone who may not import for ``cb``."""
    from apcert.imports.tasks import run_import

    import_allowed_cbs(actor=actor, cb=cb)
    batch = ImportBatch.objects.create(
        actor=actor,
        cb=cb,
        file_name=file_name[:255],
        file_format=guess_format(file_name, data),
        sha256=hashlib.sha256(data).hexdigest(),
        content=data,
        status=ImportBatchStatus.CHECKING,
    )
    run_import.enqueue(batch.pk, False)
    return batch


def import_batch_check(*, batch: ImportBatch, progress: Progress | None = None) -> ImportReport:
    """The dry run of an uploaded file; its report kept with the batch."""
    report, _, _ = import_check(
        actor=batch.actor, data=bytes(batch.content or b""), file_name=batch.file_name,
        file_format=batch.file_format, cb=batch.cb, progress=progress,
    )  # fmt: skip
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatchStatus.CHECKED if report.ok else ImportBatchStatus.FAILED,
        content=batch.content if report.ok else None,
        rows=report.rows,
        certificates=report.certificates,
        new=report.new,
        changed=report.changed,
        unchanged=report.unchanged,
        problems=[p.as_list() for p in report.problems[:REPORT_LIMIT]],
        problem_count=len(report.problems),
    )
    return report


def import_confirm(*, actor: User, batch: ImportBatch) -> ImportBatch:
    """Confirm the commit of a file whose dry run found no problem: it is queued for the
    worker, which checks it again and writes it (every row or none)."""
    from apcert.imports.tasks import run_import

    import_allowed_cbs(actor=actor, cb=batch.cb)
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != ImportBatchStatus.CHECKED:
            raise RuleViolation(
                f"This file is {locked.get_status_display()}; only a file checked without "
                "problems can be written.",
                code=IMPORT_BATCH_NOT_CHECKED,
            )
        locked.status = ImportBatchStatus.RUNNING
        locked.save(update_fields=["status"])
        run_import.enqueue(locked.pk, True)
    return locked


def import_batch_commit(*, batch: ImportBatch, progress: Progress | None = None) -> ImportReport:
    """The confirmed commit of an uploaded file, by the person who uploaded it."""
    report = register_import(
        actor=batch.actor, data=bytes(batch.content or b""), file_name=batch.file_name,
        file_format=batch.file_format, cb=batch.cb, progress=progress, batch=batch,
    )  # fmt: skip
    if report.ok and not report.committed:
        # Nothing left to write (another import wrote it meanwhile): done, nothing changed.
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatchStatus.COMMITTED, content=None, committed_at=timezone.now()
        )
    return report


def import_batches_visible_to(actor: User) -> Any:
    """The imports a person may see: every one for the Secretariat, else those of the CBs
    they manage and their own."""
    batches = ImportBatch.objects.select_related("actor", "cb").defer("content")
    if is_secretariat(actor):
        return batches
    return batches.filter(
        Q(actor=actor)
        | Q(
            cb__staff__user=actor,
            cb__staff__active=True,
            cb__staff__role__in=IMPORT_ROLES,
        )
    ).distinct()


def import_cbs_of(actor: User) -> list[CertificationBody]:
    """The CBs a person may import for (every CB for the Secretariat)."""
    if is_secretariat(actor):
        return list(CertificationBody.objects.order_by("code"))
    return list(
        CertificationBody.objects.filter(
            staff__user=actor, staff__active=True, staff__role__in=IMPORT_ROLES
        )
        .distinct()
        .order_by("code")
    )
