"""What the demo loader keeps of its own runs."""

from __future__ import annotations

from django.db import models


class DemoLoad(models.Model):
    """One run of ``apcert demo-data``: written before its first row, finished after its last
    derived table. A run whose rows were not all written cannot be completed: its partial
    data stays, and the loader refuses to add a second set beside it."""

    started_at = models.DateTimeField()
    #: When every row was written (the ``demo.load`` audit event with them).
    rows_written_at = models.DateTimeField(null=True, blank=True)
    #: When the search index, visit schedule, status counts and statistics were built too.
    finished_at = models.DateTimeField(null=True, blank=True)
    certificates = models.IntegerField()
    seed = models.IntegerField()

    def __str__(self) -> str:
        return f"demo load of {self.certificates} certificates (seed {self.seed})"
