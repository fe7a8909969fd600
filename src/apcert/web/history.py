"""A record's history as the back office shows it: its audited events, newest first, a page
at a time, each changed field as its value before and after, rendered plainly."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from apcert.audit.selectors import HistoryEntry
from apcert.web.lists import CappedPage

#: Events on one page of a history.
HISTORY_PER_PAGE = 100

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Value:
    """A recorded value for the page: a date (shown with ``|day``), a moment (``|moment``),
    or text; ``absent`` where the event records no value on that side."""

    text: str = ""
    date: dt.date | None = None
    moment: dt.datetime | None = None
    absent: bool = False


@dataclass(frozen=True)
class Change:
    field: str
    before: Value
    after: Value


@dataclass(frozen=True)
class HistoryRow:
    entry: HistoryEntry
    changes: tuple[Change, ...]


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def shown_value(value: Any) -> Value:
    """``value`` as recorded in an event, for the page: an ISO date string as a date, an ISO
    date and time as a moment, anything else as plain text."""
    if value is None:
        return Value(absent=True)
    if isinstance(value, str):
        if _ISO_DATE.match(value):
            try:
                return Value(date=dt.date.fromisoformat(value))
            except ValueError:
                pass
        elif _ISO_MOMENT.match(value):
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                return Value(moment=moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
    return Value(text=_plain(value))


def _field_name(name: str) -> str:
    return name.replace("_", " ").capitalize()


def history_rows(entries: list[HistoryEntry]) -> list[HistoryRow]:
    return [
        HistoryRow(
            entry=e,
            changes=tuple(
                Change(_field_name(name), shown_value(before), shown_value(after))
                for name, before, after in e.changes
            ),
        )
        for e in entries
    ]


def history_page(
    request: HttpRequest, entries: list[HistoryEntry], *, per_page: int | None = None
) -> CappedPage:
    """Page ``?page=N`` (1-based, clamped; anything else is the first) of ``entries``, a
    record's whole history as its selector read it, the rows made ready to show."""
    per_page = per_page or HISTORY_PER_PAGE
    count = len(entries)
    last = max((count - 1) // per_page + 1, 1)
    try:
        number = int(request.GET.get("page") or 1)
    except ValueError:
        number = 1
    number = min(max(number, 1), last)
    offset = (number - 1) * per_page
    rows = history_rows(entries[offset : offset + per_page])
    return CappedPage(rows, number, per_page, count, False, number < last)
