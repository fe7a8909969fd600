"""What the API for integrators keeps of its own: the answers to writes sent with an
``Idempotency-Key``."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class IdempotentWrite(models.Model):
    """A write sent to the API with an ``Idempotency-Key``, and the answer it was given.

    The row is written in the transaction of the change itself, so that the two are
    committed together or not at all: a request whose process dies before the commit leaves
    neither, and its retry writes once. A retry with the same key and the same request gets
    the stored answer and changes nothing; the same key with another request is refused.
    Keys are per token."""

    token = models.ForeignKey(
        "accounts.ApiToken", on_delete=models.PROTECT, related_name="idempotent_writes"
    )
    key = models.CharField(max_length=200)
    #: The SHA-256 of the method, the path and the body: what "the same request" means.
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    answer = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotent_write_unique")
        ]

    def __str__(self) -> str:
        return f"Idempotent write {self.key!r} of token {self.token_id}"
