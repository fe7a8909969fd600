"""The calendar of visits: a month of the CB's assessments and visits due, or of the user's
own assessments; and the user's calendar feed, which their own calendar application reads
from a secret address without signing in.

The feed holds the assessments whose team the person is on and, for a scheme manager (or
a CB's administrator), the visits falling due at their CBs. Its address is made, shown once
and stopped on the "Your calendar feed" page (``accounts.services.calendar_feed_*``); only
its hash is stored, and a stopped or unknown address answers 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from apcert.accounts.models import User
from apcert.accounts.selectors import calendar_feed_of
from apcert.accounts.services import (
    calendar_feed_create,
    calendar_feed_open,
    calendar_feed_revoke,
)
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import (
    assessments_for_cb_staff,
    assessments_in_period,
    assessments_on_team_of,
    assessments_with_team,
)
from apcert.bodies.choices import CBRole
from apcert.bodies.selectors import cb_codes_for_secretariat, cb_roles_held
from apcert.core.dates import format_date
from apcert.core.errors import DomainError
from apcert.core.permissions import is_secretariat
from apcert.cycle.models import ScheduledVisit
from apcert.cycle.selectors import (
    visits_due_for_cb_staff,
    visits_due_per_day,
    visits_for_cb_staff,
)
from apcert.web.calendar import (
    DAY_CAP,
    FEED_CAP,
    MONTH_CAP,
    WEEKDAYS,
    CalendarEvent,
    Month,
    day_of,
    ics_calendar,
    month_of,
    month_weeks,
)
from apcert.web.errors import error_page
from apcert.web.lists import Tab, chosen_tab
from apcert.web.section import current_user
from apcert.web.sections.cb.views.common import SECTION, cb_section
from apcert.web.sections.cb.views.lists import assessed_organization

#: The tabs of the month page (``?show=``).
CB_TAB = Tab("cb", "The CB's assessments and visits due")
MINE_TAB = Tab("mine", "My assessments")

#: The span of a feed around today: a year back, two ahead (the next re-assessment).
FEED_PAST = dt.timedelta(days=365)
FEED_AHEAD = dt.timedelta(days=730)


def calendar_tabs(user: User) -> tuple[list[Tab], str]:
    """The CB's calendar for every one of its staff (and the Secretariat); the user's own
    assessments for an assessor, shown first to a person who is only an assessor."""
    roles = set().union(*cb_roles_held(user).values())
    if CBRole.ADMIN in roles:
        roles.add(CBRole.ASSESSOR)
    if CBRole.ASSESSOR not in roles:
        return [], CB_TAB.value
    return [CB_TAB, MINE_TAB], MINE_TAB.value if roles == {CBRole.ASSESSOR} else CB_TAB.value


def assessment_event(a: Assessment, url: str) -> CalendarEvent:
    lead = next((m.person for m in a.team.all() if m.role == "lead"), "")
    kind = a.get_kind_display().capitalize()
    subject = f" ({a.certificate.number})" if a.certificate is not None else ""
    detail = f"{kind} by {a.cb.code}, {a.get_status_display()}"
    return CalendarEvent(
        key=f"assessment-{a.pk}",
        rank=a.pk,
        first=a.start_date,
        last=a.end_date,
        title=f"{kind} {a.pk}: {assessed_organization(a).legal_name}{subject}",
        detail=f"{detail}; lead assessor {lead}" if lead else detail,
        url=url,
        kind="assessment",
    )


def visit_event(v: ScheduledVisit, url: str) -> CalendarEvent:
    what = "Re-assessment" if v.kind == "reassessment" else f"Surveillance {v.sequence}"
    return CalendarEvent(
        key=f"visit-{v.certificate_id}-{v.kind}-{v.sequence}",
        first=v.due_date,
        last=v.due_date,
        title=f"Due: {what} of {v.certificate_number} ({v.organization.legal_name})",
        detail=(
            f"{v.cb.code}: the visit may take place from {format_date(v.window_start)} to "
            f"{format_date(v.window_end)}"
        ),
        url=url,
        kind="visit",
    )


def _events(
    assessments: Iterable[Assessment], visits: Iterable[ScheduledVisit], link: Any
) -> list[CalendarEvent]:
    events = [assessment_event(a, link("web:cb:assessment", a.pk)) for a in assessments]
    events += [visit_event(v, link("web:cb:certificate", v.certificate_id)) for v in visits]
    return sorted(events, key=lambda e: (e.first, e.kind, e.rank, e.title))


#: A number no record has, put in a route's address and replaced by each record's id.
_PLACEHOLDER = "918273645"


def links() -> Any:
    """``link(route name, pk)``: the route reversed once per name, not once per event (a
    month may hold hundreds)."""
    patterns: dict[str, str] = {}

    def link(name: str, pk: int) -> str:
        if name not in patterns:
            patterns[name] = reverse(name, args=[int(_PLACEHOLDER)])
        return patterns[name].replace(_PLACEHOLDER, str(pk), 1)

    return link


def _capped(queryset: QuerySet[Any], cap: int) -> tuple[list[Any], bool]:
    rows = list(queryset[: cap + 1])
    return rows[:cap], len(rows) > cap


def _days(start: dt.date, end: dt.date, first: dt.date, last: dt.date) -> list[dt.date]:
    """The days from ``start`` to ``end`` that fall from ``first`` to ``last``."""
    day, out = max(start, first), []
    while day <= min(end, last):
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _month_assessments(
    assessments: QuerySet[Assessment], *, first: dt.date, last: dt.date
) -> tuple[list[Assessment], bool, int, dict[dt.date, int]]:
    """The month's assessments that its grid lists (the first ``DAY_CAP`` of each day, in
    the grid's order), whether the month holds more than ``MONTH_CAP``, how many it holds,
    and per day how many were left unread. Their dates are read first, a few columns each;
    the rest (the organization, the team) only for those the grid lists."""
    dates = list(assessments.values_list("pk", "start_date", "end_date")[: MONTH_CAP + 1])
    more = len(dates) > MONTH_CAP
    dates = dates[:MONTH_CAP]
    on_day: dict[dt.date, int] = {}
    wanted: list[int] = []
    for pk, start, end in dates:  # by first day, then id: the grid's order
        listed = False
        for day in _days(start, end, first, last):
            listed = listed or on_day.get(day, 0) < DAY_CAP
            on_day[day] = on_day.get(day, 0) + 1
        if listed:
            wanted.append(pk)
    rows = list(assessments.filter(pk__in=wanted)) if wanted else []
    for a in rows:
        for day in _days(a.start_date, a.end_date, first, last):
            on_day[day] -= 1
    return rows, more, len(dates), {day: n for day, n in on_day.items() if n}


@require_safe
@cb_section
def calendar_month(request: HttpRequest) -> HttpResponse:
    """A month (``?month=2026-12``) of the CB's assessments and visits due, or of the
    user's own assessments (``?show=mine``), as a table of weeks; each event links to its
    page. Staff of several CBs (and the Secretariat) may narrow it to one (``?cb=``)."""
    user = current_user(request)
    today = timezone.localdate()
    month, month_error = month_of(request.GET.get("month", ""), today)
    # ``?day=2026-12-07``: one day's events, all of them (the month's grid lists a few a day)
    one_day = day_of(request.GET.get("day", ""))
    if one_day is not None:
        month, month_error = Month(one_day.year, one_day.month), ""
    first, last = (one_day, one_day) if one_day else (month.first, month.last)
    tabs, default = calendar_tabs(user)
    tab = chosen_tab(request, tabs, default)
    codes = cb_codes_for_secretariat(user) if is_secretariat(user) else list(cb_roles_held(user))
    cb = request.GET.get("cb", "")
    cb = cb if cb in codes else ""
    base = assessments_on_team_of(user) if tab == MINE_TAB.value else assessments_for_cb_staff(user)
    assessments = assessments_in_period(assessments_with_team(base), first=first, last=last)
    visits = visits_for_cb_staff(user)
    if cb:
        assessments = assessments.filter(cb__code=cb)
        visits = visits.filter(cb__code=cb)
    hidden: dict[dt.date, int] = {}
    if one_day:
        assessment_rows, more_assessments = _capped(assessments, MONTH_CAP)
        assessment_count = len(assessment_rows)
    else:
        assessment_rows, more_assessments, assessment_count, hidden = _month_assessments(
            assessments, first=first, last=last
        )
    # A day's page lists every visit due that day (up to the cap); the month's grid a few a
    # day, and how many more: a large CB has thousands due in a month.
    visit_rows: list[ScheduledVisit]
    if tab == MINE_TAB.value:
        visit_rows, more_visits, visit_count = [], False, 0
    elif one_day:
        visit_rows, more_visits = _capped(visits.filter(due_date=one_day), MONTH_CAP)
        visit_count = len(visit_rows)
    else:
        visit_rows, per_day = visits_due_per_day(visits, first=first, last=last, per_day=DAY_CAP)
        shown: dict[dt.date, int] = {}
        for v in visit_rows:
            shown[v.due_date] = shown.get(v.due_date, 0) + 1
        for day, n in per_day.items():
            hidden[day] = hidden.get(day, 0) + n - shown.get(day, 0)
        more_visits, visit_count = False, sum(per_day.values())
    events = _events(assessment_rows, visit_rows, links())
    return render(
        request,
        "web/cb/calendar.html",
        {
            "section": SECTION,
            "title": "Calendar",
            "month": month,
            "month_error": month_error,
            "one_day": one_day,
            "weeks": month_weeks(month, events, today, hidden),
            "weekdays": WEEKDAYS,
            "events": events,
            "assessment_count": assessment_count,
            "visit_count": visit_count,
            "capped": more_assessments or more_visits,
            "cap": MONTH_CAP,
            "tabs": tabs,
            "tab": tab,
            "cb_codes": codes if len(codes) > 1 else [],
            "cb": cb,
            "this_month": today.strftime("%Y-%m"),
        },
    )


# --- the calendar feed -------------------------------------------------------------------


def _feed_page(request: HttpRequest, *, address: str = "", status: int = 200) -> HttpResponse:
    user = current_user(request)
    roles = set().union(*cb_roles_held(user).values())
    return render(
        request,
        "web/cb/calendar_feed.html",
        {
            "section": SECTION,
            "title": "Calendar",
            "feed": calendar_feed_of(user),
            "address": address,
            "webcal": address.replace("https://", "webcal://", 1).replace(
                "http://", "webcal://", 1
            ),
            "with_visits": bool(roles & {CBRole.SCHEME_MANAGER, CBRole.ADMIN}),
        },
        status=status,
    )


@never_cache
@require_safe
@cb_section
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """Whether the user has a calendar feed, when it was made and last read, and the
    buttons to make a new address or stop it. The address itself is shown only once."""
    return _feed_page(request)


@never_cache
@require_POST
@cb_section
def calendar_feed_new(request: HttpRequest) -> HttpResponse:
    """Make a new secret address (the old one stops working) and show it, this once."""
    try:
        made = calendar_feed_create(actor=current_user(request))
    except DomainError as exc:
        return error_page(request, exc, title="Your calendar feed")
    address = request.build_absolute_uri(reverse("web:calendar-ics", args=[made.token]))
    return _feed_page(request, address=address)


@require_POST
@cb_section
def calendar_feed_stop(request: HttpRequest) -> HttpResponse:
    """Stop the feed: its address answers 404 from now on."""
    try:
        calendar_feed_revoke(actor=current_user(request))
    except DomainError as exc:
        return error_page(request, exc, title="Your calendar feed")
    messages.success(request, "Your calendar feed is stopped: its address no longer works.")
    return redirect("web:cb:calendar-feed")


def feed_events(user: User, today: dt.date, link: Any) -> list[CalendarEvent]:
    """What a person's feed holds: their assessments (as a team member) within a year back
    and two ahead, and for a scheme manager their CBs' visits due in that span."""
    first, last = today - FEED_PAST, today + FEED_AHEAD
    assessments = assessments_in_period(
        assessments_with_team(assessments_on_team_of(user)), first=first, last=last
    )
    visits = visits_due_for_cb_staff(user, first=first, last=last, roles=(CBRole.SCHEME_MANAGER,))
    return _events(assessments[:FEED_CAP], visits[:FEED_CAP], link)


@login_not_required
@never_cache
@require_safe
def calendar_ics(request: HttpRequest, token: str) -> HttpResponse:
    """The calendar feed a token opens, as iCalendar, for a calendar application that
    cannot sign in. An unknown or stopped token: 404, whoever asks."""
    try:
        user = calendar_feed_open(token=token)
    except DomainError:
        raise Http404("No calendar feed has this address.") from None
    link = links()
    events = feed_events(
        user, timezone.localdate(), lambda name, pk: request.build_absolute_uri(link(name, pk))
    )
    body = ics_calendar(
        events,
        name=f"apcert: {user}",
        # The UIDs name the site's own address, so that they stay the same whichever
        # address the feed is read at.
        host=urlsplit(settings.SITE_URL).hostname or "apcert",
        now=timezone.now(),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="apcert.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
