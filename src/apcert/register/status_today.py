"""The status of public certificates today, whether or not the daily sweep has recorded it.

A status that follows from dates alone (the validity ended, a surveillance window closed
without a visit, a suspension ran to the scheme's maximum) holds from that date on every
public answer. The stored status is the truth for every certificate whose ``lapses_on`` is
after today (or empty); the others, the *stale* ones, are few: those whose change fell due
since the sweep last ran, found by an indexed range of ``lapses_on``. Their status today
comes from :func:`apcert.certificates.timeline.status_on`, the function the sweep records
with, so that what a read shows now is what the sweep will record.

Readers that hold certificate rows ask :func:`apcert.certificates.selectors.
certificate_statuses_on`; readers of the search index, which holds the stored status, ask
:func:`stale_statuses` for the whole stale set in one query and correct what they read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.models import Certificate
from apcert.certificates.timeline import DatedChange, StatusFacts, StatusOnDay, status_on
from apcert.core.db.replicas import reading_connection

#: Shown wherever a read tells a status that the register's records do not hold yet.
NOT_YET_RECORDED = "The register's daily check has not yet recorded this change."
_REASON_LABELS = dict(StatusReason.choices)


def status_recorded(today: StatusOnDay) -> bool:
    """Whether the stored status is the status on the day: no change of status is owed.
    (A decision that falls due without changing the status, a scope reduction after the
    maximum suspension, leaves the stored status true.)"""
    return not any(change.to_status is not None for change in today.unrecorded)


def changes_made(today: StatusOnDay) -> tuple[DatedChange, ...]:
    """The changes of status the calendar made by that day and nobody has recorded yet."""
    return tuple(change for change in today.unrecorded if change.to_status is not None)


@dataclass(frozen=True)
class UnrecordedChange:
    """A change of status the calendar made and the register has not recorded yet, as the
    public history shows a change: public fields only (the reason category, never words
    of the rule)."""

    effective_on: dt.date
    from_status: str
    to_status: str
    reason_category: str
    recorded: bool = False


def unrecorded_changes(stored: str, today: StatusOnDay) -> list[UnrecordedChange]:
    """The changes of status owed on the day, oldest first, each from the status before."""
    out: list[UnrecordedChange] = []
    before = stored
    for change in changes_made(today):
        to_status = str(change.to_status)
        out.append(UnrecordedChange(change.effective_on, before, to_status, change.reason_category))
        before = to_status
    return out


def status_words(today: StatusOnDay) -> str:
    """ "Expired on 4 October 2026 (validity ended)." for a status the calendar changed;
    empty when the stored status holds."""
    from apcert.register.templatetags.register_tags import plain_day, status_word

    made = changes_made(today)
    if not made:
        return ""
    last = made[-1]
    reason = _REASON_LABELS.get(last.reason_category, last.reason_category)
    return f"{status_word(str(last.to_status))} on {plain_day(last.effective_on)} ({reason})."


@dataclass(frozen=True)
class StaleStatus:
    """A public certificate whose stored status no longer holds today."""

    certificate_id: int
    #: The status the register has recorded (and the search index holds).
    stored: str
    today: StatusOnDay

    @property
    def status(self) -> str:
        return self.today.status


@lru_cache(maxsize=16_384)
def _status_on(row: tuple[Any, ...], day: dt.date) -> StatusOnDay:
    # The same facts on the same day give the same answer: a stale certificate is read by
    # every search until the sweep records it, and is worked out once per process.
    _pk, status, since, expires_on, due_by, months, end_action = row
    facts = StatusFacts(
        status=status,
        status_since=_date(since),
        expires_on=_date(expires_on),
        surveillance_due_by=None if due_by is None else _date(due_by),
        max_suspension_months=int(months),
        suspension_end_action=end_action or "withdraw",
    )
    return status_on(facts, day)


def _date(value: Any) -> dt.date:
    # SQLite gives the stored text, PostgreSQL a date.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def stale_certificates(day: dt.date) -> QuerySet[Certificate]:
    """Public certificates whose stored status may no longer hold on ``day``: an indexed
    range, as long as the sweep is late, not as long as the register."""
    # No order: the certificates' default order (by number) would have the database walk
    # the number index over the whole register instead of the lapses_on range.
    return (
        Certificate.objects.filter(lapses_on__lte=day)
        .exclude(status=CertificateStatus.DRAFT)
        .order_by()
    )


#: The facts the calendar reads, with the scheme's rule figures, of the stale certificates.
#: Plain SQL: every search asks it, and the ORM's own work per row cost more than the read.
#: The dates come as text, turned into dates once per row and day (:func:`_status_on`):
#: the driver's own conversion of every date of every row took most of the read's time.
_STALE_SQL = (
    "SELECT c.id, c.status, CAST(c.status_since AS TEXT), CAST(c.expires_on AS TEXT),"
    " CAST(c.surveillance_due_by AS TEXT),"
    " r.max_suspension_months, r.suspension_end_action"
    " FROM certificates_certificate c"
    " JOIN schemes_schemerules r ON r.scheme_id = c.scheme_id"
    " WHERE c.lapses_on <= %s AND c.status <> %s"
)
_answers: dict[tuple[dt.date, tuple[tuple[Any, ...], ...]], dict[int, StaleStatus]] = {}


def stale_statuses(
    day: dt.date | None = None,
    certificates: QuerySet[Certificate] | None = None,
    *,
    ids: list[int] | None = None,
) -> dict[int, StaleStatus]:
    """Every public certificate (of ``certificates``, or with these ``ids``; by default
    all) whose status on ``day`` (today by default) differs from its stored status, with
    that status: one query for the certificates and their schemes' rules together. Treat
    the answer as read-only: the same facts on the same day give the same (shared) answer."""
    day = day or timezone.localdate()
    sql = _STALE_SQL
    params: list[Any] = [day, CertificateStatus.DRAFT.value]
    if ids is not None:
        sql += f" AND c.id IN ({', '.join(['%s'] * len(ids)) or 'NULL'})"
        params.extend(ids)
    if certificates is not None:
        chosen, more = certificates.order_by().values("pk").query.sql_with_params()
        sql, params = f"{sql} AND c.id IN ({chosen})", [*params, *more]
    with reading_connection().cursor() as cursor:
        cursor.execute(sql, params)
        rows = tuple(cursor.fetchall())
    if not rows:
        return {}
    key = (day, rows)
    found = _answers.get(key)
    if found is None:
        found = {}
        for row in rows:
            today = _status_on(tuple(row), day)
            if not status_recorded(today):
                found[row[0]] = StaleStatus(certificate_id=row[0], stored=row[1], today=today)
        if len(_answers) >= 64:
            _answers.clear()
        _answers[key] = found
    return found


__all__ = [
    "NOT_YET_RECORDED",
    "StaleStatus",
    "UnrecordedChange",
    "changes_made",
    "stale_certificates",
    "stale_statuses",
    "status_recorded",
    "status_words",
    "unrecorded_changes",
]
