"""Shared abstract models."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    """Creation and last-change times, kept by the database layer."""

    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True
