"""Calendar arithmetic for the scheme's month-based periods."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def format_date(value: dt.date) -> str:
    """A date as every page, mail and document shows it, in English whatever the server's
    locale: ``7 December 2026``."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_datetime(value: dt.datetime) -> str:
    """A moment as every page shows it, in UTC with the zone said: ``7 December 2026, 14:05
    UTC``. A naive value is taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return f"{format_date(value.date())}, {value:%H:%M} UTC"
