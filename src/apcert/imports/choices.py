from django.db import models


class ImportBatchStatus(models.TextChoices):
    """Where an uploaded file stands: being checked, checked (the dry run found no problem;
    it waits for the confirmation), being written, written, not written (problems found,
    or the commit failed)."""

    CHECKING = "checking", "being checked"
    CHECKED = "checked", "checked (dry run)"
    RUNNING = "running", "being written"
    COMMITTED = "committed", "written"
    FAILED = "failed", "not written"


class ImportAction(models.TextChoices):
    """What the planner found for a certificate of the file, compared with the register."""

    NEW = "new", "new"
    CHANGED = "changed", "changed"
    UNCHANGED = "unchanged", "unchanged"
