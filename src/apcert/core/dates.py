"""Calendar arithmetic for the scheme's month-based periods, today's date, and dates as
people read them."""

from __future__ import annotations

import calendar
import datetime as dt

from django.utils import timezone

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def today() -> dt.date:
    """Today in the scheme's time zone: the date a record is made on when none is given,
    and the last date anything can have happened on."""
    return timezone.localdate()


def long_date(day: dt.date) -> str:
    """``7 December 2026``, in English whatever the server's locale: the form the refusals
    use, so that two dates in one message cannot be read the wrong way round."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
