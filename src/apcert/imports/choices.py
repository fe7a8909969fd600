from django.db import models


class ImportBatchStatus(models.TextChoices):
    """Where an uploaded file stands: checked (the dry run's report is kept), being written,
    written, refused (problems found, or the commit failed)."""

    CHECKED = "checked", "checked (dry run)"
    RUNNING = "running", "being written"
    COMMITTED = "committed", "written"
    FAILED = "failed", "not written"


class ImportAction(models.TextChoices):
    """What the planner found for a certificate of the file, compared with the register."""

    NEW = "new", "new"
    CHANGED = "changed", "changed"
    UNCHANGED = "unchanged", "unchanged"
