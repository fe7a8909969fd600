"""Calendar arithmetic for the scheme's month-based periods, and dates as documents and
pages print them."""

from __future__ import annotations

import calendar
import datetime as dt

from django.utils import timezone

#: The months in English, whatever the server's locale: documents read the same everywhere.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if day.day <= 28:  # every month has the day: no calendar to look up (most calls)
        return dt.date(year, month, day.day)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def format_date(day: dt.date) -> str:
    """A date as every document and page prints it: ``7 December 2026``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


#: The forms a date is typed in, whatever the browser's locale: 2026-12-07, 7 December 2026 or
#: 7 Dec 2026 (month names in English, as every page prints them).
TYPED_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d %b %Y")
#: How the forms say it.
TYPED_DATE_HINT = "as 2026-12-07 or 7 December 2026"


def parse_typed_date(text: str) -> dt.date | None:
    """The date ``text`` names in one of :data:`TYPED_DATE_FORMATS` (spaces folded), else
    ``None``."""
    text = " ".join((text or "").split())
    for pattern in TYPED_DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def format_datetime(moment: dt.datetime) -> str:
    """A moment as every document and page prints it, in UTC: ``7 December 2026, 14:05
    UTC``. A naive datetime is taken to be in UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return f"{format_date(moment.date())}, {moment:%H:%M} UTC"


def today() -> dt.date:
    """Today in the scheme's time zone: the date a record is made on when none is given,
    and the last date anything can have happened on."""
    return timezone.localdate()
