"""Calendars of visits: a month laid out in weeks for a page, and an iCalendar feed.

Both show the same events: assessments (from their first to their last day) and visits
of a certificate's audit programme falling due (on their due date). The page reads
``?month=2026-12``; the weeks run Monday to Sunday, as ISO 8601 has them. The feed is
written with the ``icalendar`` library (RFC 5545): each event a whole-day event, with a
stable UID so that a calendar that reads the feed again updates the event in place.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from icalendar import Calendar
from icalendar import Event as ICalEvent

from apcert.core.dates import add_months, format_date

#: The most events of each kind a month page shows (past it, the page says so).
MONTH_CAP = 500
#: The most events a day of the month's grid lists; past it, the day links to its own page.
DAY_CAP = 8
#: The most events of each kind a feed holds.
FEED_CAP = 2000
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Month:
    """A calendar month: its first and last days, and its neighbours."""

    year: int
    month: int

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def param(self) -> str:
        """As ``?month=`` takes it: ``2026-12``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """``December 2026``, in the words of every date shown (whatever the locale)."""
        return format_date(self.first).split(" ", 1)[1]

    @property
    def previous(self) -> Month:
        day = add_months(self.first, -1)
        return Month(day.year, day.month)

    @property
    def next(self) -> Month:
        day = add_months(self.first, 1)
        return Month(day.year, day.month)


def day_of(text: str) -> dt.date | None:
    """The day ``text`` names (``2026-12-07``), else None."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return day if 1900 <= day.year <= 2999 else None


def month_of(text: str, today: dt.date) -> tuple[Month, str]:
    """The month ``text`` names (``2026-12``), else today's, with why ``text`` was not used
    ("" when it was, or was empty)."""
    text = (text or "").strip()
    if not text:
        return Month(today.year, today.month), ""
    try:
        day = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        pass
    else:
        if 1900 <= day.year <= 2999:
            return Month(day.year, day.month), ""
    return (
        Month(today.year, today.month),
        f"{text[:20]!r} is not a month as 2026-12: this month is shown instead.",
    )


@dataclass(frozen=True)
class CalendarEvent:
    """One entry of a calendar: an assessment or a visit falling due."""

    #: A stable identity, e.g. ``assessment-12`` or ``visit-7-surveillance-2``.
    key: str
    first: dt.date
    last: dt.date
    title: str
    #: A line of detail: the kind, the CB, the dates, the team or the window.
    detail: str
    #: The back-office page of the event (a path, or a whole address in a feed).
    url: str
    #: ``assessment`` or ``visit``.
    kind: str
    #: The order among the day's events of its kind before their titles (an assessment's
    #: id: the month's grid picks the first few of each day in that order).
    rank: int = 0

    @property
    def days(self) -> str:
        if self.first == self.last:
            return format_date(self.first)
        return f"{format_date(self.first)} to {format_date(self.last)}"


@dataclass
class Day:
    """A day of a month's grid, with the events on it."""

    date: dt.date
    in_month: bool
    today: bool
    events: list[CalendarEvent] = field(default_factory=list)
    #: Events of the day that were not even read for the grid (visits past a day's share).
    unread: int = 0

    @property
    def weekday(self) -> str:
        return WEEKDAYS[self.date.weekday()]

    @property
    def shown(self) -> list[CalendarEvent]:
        """The events the month's grid lists on this day (at most ``DAY_CAP``)."""
        return self.events[:DAY_CAP]

    @property
    def more(self) -> int:
        """How many events the grid leaves to the day's own page."""
        return max(0, len(self.events) - DAY_CAP) + self.unread


def month_weeks(
    month: Month,
    events: Iterable[CalendarEvent],
    today: dt.date,
    unread: dict[dt.date, int] | None = None,
) -> list[list[Day]]:
    """The weeks (Monday to Sunday) that cover ``month``, each day with the events that
    take place on it (and the number of its events ``unread`` left out); days before and
    after the month are there, empty, to fill the weeks."""
    start = month.first - dt.timedelta(days=month.first.weekday())
    end = month.last + dt.timedelta(days=6 - month.last.weekday())
    days: dict[dt.date, Day] = {}
    day = start
    while day <= end:
        days[day] = Day(day, day.month == month.month, day == today)
        day += dt.timedelta(days=1)
    for day_of_month, n in (unread or {}).items():
        if day_of_month in days:
            days[day_of_month].unread = n
    for event in events:
        day = max(event.first, month.first)
        while day <= min(event.last, month.last):
            days[day].events.append(event)
            day += dt.timedelta(days=1)
    ordered = list(days.values())
    return [ordered[i : i + 7] for i in range(0, len(ordered), 7)]


def ics_calendar(
    events: Iterable[CalendarEvent], *, name: str, host: str, now: dt.datetime
) -> bytes:
    """``events`` as an iCalendar document named ``name``: whole-day events, each with a
    UID made of its key and ``host`` (stable across reads), its page's address, and
    ``now`` as the time the document was made."""
    cal = Calendar()
    cal.add("prodid", "-//apcert//back office calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    # Calendars that honour it read the feed again every hour.
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    stamp = now.astimezone(dt.UTC)
    for e in events:
        item = ICalEvent()
        item.add("uid", f"{e.key}@{host}")
        item.add("dtstamp", stamp)
        item.add("dtstart", e.first)
        # The end of a whole-day event is the day after its last (RFC 5545, 3.6.1).
        item.add("dtend", e.last + dt.timedelta(days=1))
        item.add("summary", e.title)
        item.add("description", f"{e.detail}\n{e.url}")
        item.add("url", e.url)
        item.add("categories", [e.kind])
        item.add("transp", "TRANSPARENT" if e.kind == "visit" else "OPAQUE")
        cal.add_component(item)
    return bytes(cal.to_ical())
