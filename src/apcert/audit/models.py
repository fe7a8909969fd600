"""The tamper-evident audit trail."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One regulated change, written by the service that made it, in the same transaction.

    Events form a hash chain: ``hash`` is the SHA-256 of the event's canonical content,
    which includes ``prev_hash``, the hash of the event before it. The database refuses
    UPDATE and DELETE on this table (triggers installed by migration 0002), so the log can
    only grow; ``apcert audit verify`` recomputes the chain and names the first event that
    does not match. The actor is stored by id and label, not as a foreign key, so that no
    cascade can ever reach this table.
    """

    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(editable=False, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, editable=False)
    actor_label = models.CharField(max_length=300, editable=False)
    action = models.CharField(max_length=100, editable=False, db_index=True)
    object_type = models.CharField(max_length=100, editable=False)
    object_id = models.CharField(max_length=100, editable=False)
    object_repr = models.CharField(max_length=300, editable=False, blank=True)
    before = models.JSONField(null=True, blank=True, editable=False)
    after = models.JSONField(null=True, blank=True, editable=False)
    reason = models.TextField(blank=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id", "seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The last event of the chain: one row, locked by every writer of an event.

    Holding this row's lock while appending is what keeps ``seq`` gap-free and each
    ``prev_hash`` equal to the hash of the event that really came before.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single_row")
        ]

    def __str__(self) -> str:
        return f"audit head at #{self.last_seq}"
