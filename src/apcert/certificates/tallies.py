"""Counts of certificates by status, kept with every change rather than counted on read.

:class:`~apcert.certificates.models.StatusCount` holds how many of each CB's certificates
are in each public status now, and :class:`~apcert.certificates.models.StatusTally` how many
changed from one status to another in each month. The transition service, the one road a
status takes, adds each change to both inside its transaction (:func:`tally_status_change`),
so they are never behind the changes they count. The dashboards read them instead of every
certificate and every change of the last two years. A bulk load, which writes rows directly,
builds them once at the end (:func:`status_tallies_rebuild`); :func:`status_tallies_problems`
compares them with a count from scratch.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Model

from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import (
    Certificate,
    CertificateStatusChange,
    StatusCount,
    StatusTally,
)


def _bump(model: type[Model], keys: dict[str, Any], by: int) -> None:
    """Add ``by`` to the row of ``model`` with ``keys``, made when it is the first."""
    rows = model._default_manager.filter(**keys)
    if rows.update(n=F("n") + by):
        return
    try:
        with transaction.atomic():
            model._default_manager.create(**keys, n=by)
    except IntegrityError:  # made by another transaction meanwhile
        rows.update(n=F("n") + by)


def tally_status_change(
    *, cb_id: int, effective_on: dt.date, from_status: str, to_status: str
) -> None:
    """Count one change of a certificate of ``cb_id`` (in the caller's transaction)."""
    _bump(
        StatusTally,
        {
            "cb_id": cb_id,
            "month": effective_on.replace(day=1),
            "from_status": from_status,
            "to_status": to_status,
        },
        1,
    )
    if from_status in PUBLIC_STATUSES:
        _bump(StatusCount, {"cb_id": cb_id, "status": from_status}, -1)
    if to_status in PUBLIC_STATUSES:
        _bump(StatusCount, {"cb_id": cb_id, "status": to_status}, 1)


def tally_status_changes_many(changes: Counter[tuple[int, dt.date, str, str]]) -> None:
    """Count many changes at once (a bulk import): ``(cb id, effective on, from, to)`` with
    how many times each, one update per tally row instead of one per change."""
    tallies: Counter[tuple[int, dt.date, str, str]] = Counter()
    counts: Counter[tuple[int, str]] = Counter()
    for (cb_id, effective_on, from_status, to_status), n in changes.items():
        tallies[(cb_id, effective_on.replace(day=1), from_status, to_status)] += n
        if from_status in PUBLIC_STATUSES:
            counts[(cb_id, from_status)] -= n
        if to_status in PUBLIC_STATUSES:
            counts[(cb_id, to_status)] += n
    for (cb_id, month, from_status, to_status), n in sorted(tallies.items()):
        _bump(
            StatusTally,
            {"cb_id": cb_id, "month": month, "from_status": from_status, "to_status": to_status},
            n,
        )
    for (cb_id, status), n in sorted(counts.items()):
        if n:
            _bump(StatusCount, {"cb_id": cb_id, "status": status}, n)


def _counted() -> tuple[Counter[tuple[int, str]], Counter[tuple[int, dt.date, str, str]]]:
    """Both tables' contents counted from scratch: from the certificates, and from the
    changes grouped by day (then added up by month here: no date function per row)."""
    now: Counter[tuple[int, str]] = Counter()
    for cb_id, status, n in (
        Certificate.objects.filter(status__in=PUBLIC_STATUSES)
        .values_list("cb_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        now[(cb_id, status)] = n
    months: Counter[tuple[int, dt.date, str, str]] = Counter()
    for cb_id, day, from_status, to_status, n in (
        CertificateStatusChange.objects.values_list(
            "certificate__cb_id", "effective_on", "from_status", "to_status"
        )
        .annotate(n=Count("pk"))
        .order_by()
    ):
        months[(cb_id, day.replace(day=1), from_status, to_status)] += n
    return now, months


def status_tallies_rebuild() -> int:
    """Count both tables again from the certificates and their changes (after a bulk load,
    or to repair them). Returns the number of tally rows written."""
    now, months = _counted()
    with transaction.atomic():
        StatusCount.objects.all().delete()
        StatusTally.objects.all().delete()
        StatusCount.objects.bulk_create(
            [StatusCount(cb_id=cb, status=s, n=n) for (cb, s), n in now.items() if n],
            batch_size=2000,
        )
        StatusTally.objects.bulk_create(
            [
                StatusTally(cb_id=cb, month=m, from_status=f, to_status=t, n=n)
                for (cb, m, f, t), n in months.items()
            ],
            batch_size=2000,
        )
    return len(months)


def status_tallies_problems() -> list[str]:
    """Where the kept counts differ from a count from scratch (empty: in step)."""
    now, months = _counted()
    kept_now = Counter(
        {(cb, s): n for cb, s, n in StatusCount.objects.values_list("cb_id", "status", "n") if n}
    )
    kept_months = Counter(
        {
            (cb, m, f, t): n
            for cb, m, f, t, n in StatusTally.objects.values_list(
                "cb_id", "month", "from_status", "to_status", "n"
            )
            if n
        }
    )
    problems = [
        f"CB {cb}: {kept_now[(cb, s)]} {s} certificates kept, {now[(cb, s)]} counted"
        for cb, s in sorted(set(kept_now) | set(now))
        if kept_now[(cb, s)] != now[(cb, s)]
    ]
    problems += [
        f"CB {cb} {m:%Y-%m}: {kept_months[key]} changes {f} -> {t} kept, {months[key]} counted"
        for key in sorted(set(kept_months) | set(months))
        if kept_months[key] != months[key]
        for cb, m, f, t in [key]
    ]
    return problems
