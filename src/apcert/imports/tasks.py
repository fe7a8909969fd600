"""The import screen's runs, in the worker (django-tasks): the dry run of an uploaded file,
then, once confirmed, its commit. Each writes its progress for the screen to poll
(:mod:`apcert.imports.progress`) and its outcome to the batch."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from apcert.imports.choices import ImportBatchStatus
from apcert.imports.models import ImportBatch
from apcert.imports.progress import ProgressFile
from apcert.imports.services import import_batch_check, import_batch_commit


@task()
def run_import(batch_id: int, commit: bool) -> dict[str, Any]:
    batch = ImportBatch.objects.select_related("actor", "cb").get(pk=batch_id)
    progress = ProgressFile(batch_id)
    try:
        if commit:
            import_batch_commit(batch=batch, progress=progress)
        else:
            import_batch_check(batch=batch, progress=progress)
    except Exception as exc:
        ImportBatch.objects.filter(pk=batch_id).update(
            status=ImportBatchStatus.FAILED, failure=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    finally:
        progress.remove()
    batch.refresh_from_db()
    return {"status": batch.status, "new": batch.new, "changed": batch.changed}
