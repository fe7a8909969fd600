"""The calendar of visits and a person's calendar feed.

The month page lays out the CB's assessments and visits falling due (or the user's own
assessments) in weeks, each a link, and runs as many queries with 30 assessments as with 3.
The feed's address is made, shown once, rotated and stopped by its owner; only its hash is
stored; a calendar application reads it without signing in; a stopped or unknown address is
a 404. Each change of a feed writes one audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from apcert.accounts.errors import CALENDAR_FEED_NOT_ACTIVE, CALENDAR_FEED_NOT_FOUND
from apcert.accounts.models import CalendarFeed, User
from apcert.accounts.services import (
    calendar_feed_create,
    calendar_feed_open,
    calendar_feed_revoke,
)
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_plan
from apcert.audit.models import AuditEvent
from apcert.core.errors import PERMISSION_NOT_SIGNED_IN, NotFound, PermissionDenied, RuleViolation
from apcert.cycle.models import ScheduledVisit
from apcert.web.calendar import DAY_CAP
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

CALENDAR = "/office/cb/calendar/"
FEED_PAGE = "/office/cb/calendar/feed"
TODAY = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
#: The events' UIDs name the site's own address, whichever address the feed is read at.
SITE_HOST = urlsplit(settings.SITE_URL).hostname


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    time_machine.move_to(TODAY)


def text(response: HttpResponse) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def planned(
    world: World, start: dt.date, *, team: list[tuple[User, str]] | None = None
) -> Assessment:
    t = world.team
    return assessment_plan(
        actor=t.manager,
        kind="initial",
        application=world.accepted_application(),
        start_date=start,
        end_date=start + dt.timedelta(days=2),
        team=team or [(t.lead, "lead"), (t.assessor, "member")],
    )


def events(body: bytes) -> list[Any]:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def feed_address(response: HttpResponse) -> str:
    found = re.search(
        r'value="(http://testserver/office/calendar/[^"]+\.ics)"', response.content.decode()
    )
    assert found, "the new address is shown"
    return found.group(1).removeprefix("http://testserver")


# --- the month page ------------------------------------------------------------------------


def test_the_month_lays_out_the_cb_s_assessments_and_visits_due(
    client: Client, world: World
) -> None:
    a = planned(world, dt.date(2026, 7, 30))  # 30 July to 1 August
    other = World.build()
    theirs = planned(other, dt.date(2026, 7, 6))
    cert = world.granted()
    visit = ScheduledVisit.objects.filter(certificate=cert).order_by("due_date").first()
    assert visit is not None
    login(client, world.team.manager)

    response = client.get(CALENDAR, {"month": "2026-07"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Calendar: July 2026" in text(response)
    # On each of its days in July, linked; not on 1 August (another month's page).
    assert page.count(f'href="/office/cb/assessments/{a.pk}/"') == 2
    assert f"/assessments/{theirs.pk}/" not in page
    assert '<time datetime="2026-07-30"><span class="weekday-narrow">Thursday </span>30<' in page
    assert 'href="?month=2026-06"' in page and 'href="?month=2026-08"' in page
    assert page.count(f'href="/office/cb/assessments/{a.pk}/"') == 2

    month = visit.due_date.strftime("%Y-%m")
    page = client.get(CALENDAR, {"month": month}).content.decode()
    assert f'href="/office/cb/certificates/{cert.pk}/"' in page
    assert f"Due: Surveillance 1 of {cert.number}" in html.unescape(page)


def test_an_assessor_sees_their_own_assessments_first(client: Client, world: World) -> None:
    t = world.team
    mine = planned(world, dt.date(2026, 7, 6))
    not_mine = planned(world, dt.date(2026, 7, 13), team=[(t.lead, "lead")])
    login(client, t.assessor)
    response = client.get(CALENDAR, {"month": "2026-07"})
    page = response.content.decode()
    assert 'aria-current="page">My assessments<' in page
    assert f"/assessments/{mine.pk}/" in page and f"/assessments/{not_mine.pk}/" not in page
    page = client.get(CALENDAR, {"month": "2026-07", "show": "cb"}).content.decode()
    assert f"/assessments/{not_mine.pk}/" in page


def test_a_month_that_is_not_one_shows_this_month_and_says_so(client: Client, world: World) -> None:
    login(client, world.team.manager)
    response = client.get(CALENDAR, {"month": "2026-13"})
    assert response.status_code == 200
    page = text(response)
    assert "Calendar: June 2026" in page
    assert "'2026-13' is not a month as 2026-12" in page
    assert 'aria-current="date"' in response.content.decode()  # today, 1 June


def test_the_month_runs_as_many_queries_with_30_assessments_as_with_3(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for day in range(3):
        planned(world, dt.date(2026, 7, 1 + day))
    login(client, world.team.manager)
    client.get(CALENDAR, {"month": "2026-07"})
    with CaptureQueriesContext(connection) as few:
        client.get(CALENDAR, {"month": "2026-07"})
    for day in range(27):
        planned(world, dt.date(2026, 7, 1 + day))
    with django_assert_max_num_queries(len(few)):
        response = client.get(CALENDAR, {"month": "2026-07"})
    assert "30 assessments" in text(response)


def test_a_busy_day_lists_a_few_and_links_to_its_own_page_with_all(
    client: Client, world: World
) -> None:
    # given more assessments on 7 July than a day of the grid lists
    busy = [planned(world, dt.date(2026, 7, 6)) for _ in range(DAY_CAP + 3)]
    login(client, world.team.manager)

    # when the month is read, 7 July lists DAY_CAP of them and links to the day's page
    page = client.get(CALENDAR, {"month": "2026-07"}).content.decode()
    on_the_7th = [a for a in busy if f'href="/office/cb/assessments/{a.pk}/"' in page]
    assert len(on_the_7th) == DAY_CAP
    assert "3 more<span" in page and 'href="?month=2026-07&amp;day=2026-07-07"' in page

    # then the day's page lists every one of them, and leads back to the month
    response = client.get(CALENDAR, {"month": "2026-07", "day": "2026-07-07"})
    day = response.content.decode()
    assert "Calendar: 7 July 2026" in text(response)
    assert all(f'href="/office/cb/assessments/{a.pk}/"' in day for a in busy)
    assert f"{len(busy)} assessments and 0 visits due on 7 July 2026" in text(response)
    assert 'href="?month=2026-07">Back to July 2026' in day
    # a day that is not one shows the month
    assert "Calendar: July 2026" in text(client.get(CALENDAR, {"month": "2026-07", "day": "7th"}))


def test_assessments_past_a_day_s_share_are_counted_not_read(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given more three-day assessments from 6 to 8 July than a day of the grid lists
    busy = [planned(world, dt.date(2026, 7, 6)) for _ in range(DAY_CAP + 3)]
    login(client, world.team.manager)
    read: list[int] = []
    from_db = Assessment.from_db.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Assessment], *args: Any, **kwargs: Any) -> Assessment:
        made = from_db(cls, *args, **kwargs)
        read.append(made.pk)
        return made

    monkeypatch.setattr(Assessment, "from_db", classmethod(counted))

    # when the month is read, only the assessments its grid lists are read in full (the
    # first of each day, by id), and each of the three days counts the rest
    page = client.get(CALENDAR, {"month": "2026-07"}).content.decode()
    assert sorted(read) == sorted(a.pk for a in busy[:DAY_CAP])
    assert page.count("3 more<span") == 3
    assert f"{len(busy)} assessments and " in text(client.get(CALENDAR, {"month": "2026-07"}))


def test_the_calendar_is_refused_to_those_the_cb_section_is_not_for(
    client: Client, world: World
) -> None:
    login(client, world.org_user)
    assert client.get(CALENDAR).status_code == 403
    assert client.get(FEED_PAGE).status_code == 403
    assert client.post(f"{FEED_PAGE}/new").status_code == 403
    assert not CalendarFeed.objects.exists()


# --- the feed -----------------------------------------------------------------------------


def test_the_feed_address_is_shown_once_and_read_without_signing_in(
    client: Client, world: World
) -> None:
    t = world.team
    a = planned(world, dt.date(2026, 7, 6))
    login(client, t.lead)
    assert "You have no calendar feed" in text(client.get(FEED_PAGE))

    response = client.post(f"{FEED_PAGE}/new")
    assert response.status_code == 200
    path = feed_address(response)
    token = path.removeprefix("/office/calendar/").removesuffix(".ics")
    assert "webcal://testserver/office/calendar/" in response.content.decode()
    [event] = AuditEvent.objects.filter(action="calendar_feed.create")
    assert event.actor_id == t.lead.pk
    feed = CalendarFeed.objects.get(user=t.lead)
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Shown once: the page does not show it again.
    again = client.get(FEED_PAGE)
    assert token not in again.content.decode() and "Create a new address" in text(again)

    reader = Client()  # a calendar application: no session
    answer = reader.get(path)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/calendar; charset=utf-8"
    [item] = events(answer.content)
    assert str(item["uid"]) == f"assessment-{a.pk}@{SITE_HOST}"
    assert item.decoded("dtstart") == dt.date(2026, 7, 6)
    assert item.decoded("dtend") == dt.date(2026, 7, 9)  # the day after the last
    assert str(item["url"]) == f"http://testserver/office/cb/assessments/{a.pk}/"
    assert world.org.legal_name in str(item["summary"])
    feed.refresh_from_db()
    assert feed.last_used_at is not None
    assert "Last read" in text(client.get(FEED_PAGE))


def test_a_scheme_manager_s_feed_has_the_visits_due_an_assessor_s_does_not(
    world: World,
) -> None:
    cert = world.granted()
    visits = list(ScheduledVisit.objects.filter(certificate=cert))
    assert visits
    manager = calendar_feed_create(actor=world.team.manager).token
    assessor = calendar_feed_create(actor=world.team.assessor).token
    items = events(Client().get(f"/office/calendar/{manager}.ics").content)
    uids = {str(e["uid"]) for e in items}
    due = [v for v in visits if v.due_date <= (TODAY + dt.timedelta(days=730)).date()]
    assert {f"visit-{cert.pk}-{v.kind}-{v.sequence}@{SITE_HOST}" for v in due} <= uids
    items = events(Client().get(f"/office/calendar/{assessor}.ics").content)
    assert not any(str(e["uid"]).startswith("visit-") for e in items)
    # The assessor was on the (closed) initial assessment's team: it is in their feed.
    assert any(str(e["uid"]).startswith("assessment-") for e in items)


def test_a_new_address_stops_the_old_one(client: Client, world: World) -> None:
    login(client, world.team.lead)
    old = feed_address(client.post(f"{FEED_PAGE}/new"))
    new = feed_address(client.post(f"{FEED_PAGE}/new"))
    assert old != new
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    assert CalendarFeed.objects.filter(user=world.team.lead, revoked_at__isnull=True).count() == 1
    latest = AuditEvent.objects.filter(action="calendar_feed.create").order_by("-seq").first()
    assert latest is not None and latest.before == {
        "active_feed": CalendarFeed.objects.filter(revoked_at__isnull=False).get().pk
    }


def test_stopping_the_feed_makes_its_address_a_404(client: Client, world: World) -> None:
    login(client, world.team.lead)
    path = feed_address(client.post(f"{FEED_PAGE}/new"))
    response = client.post(f"{FEED_PAGE}/stop", follow=True)
    assert "Your calendar feed is stopped" in text(response)
    assert Client().get(path).status_code == 404
    assert AuditEvent.objects.filter(action="calendar_feed.revoke").count() == 1
    # Stopping again: nothing to stop, said so, nothing written.
    before = AuditEvent.objects.count()
    again = client.post(f"{FEED_PAGE}/stop")
    assert again.status_code == 409
    assert "You have no calendar feed to stop." in text(again)
    assert AuditEvent.objects.count() == before


def test_an_unknown_address_and_a_departed_person_s_feed_are_404(world: World) -> None:
    assert Client().get("/office/calendar/not-a-token.ics").status_code == 404
    token = calendar_feed_create(actor=world.team.lead).token
    User.objects.filter(pk=world.team.lead.pk).update(is_active=False)
    assert Client().get(f"/office/calendar/{token}.ics").status_code == 404


def test_the_feed_services_refuse_with_their_codes(world: World) -> None:
    with pytest.raises(NotFound) as missing:
        calendar_feed_open(token="nothing")
    assert missing.value.code == CALENDAR_FEED_NOT_FOUND
    with pytest.raises(RuleViolation) as none_active:
        calendar_feed_revoke(actor=world.team.lead)
    assert none_active.value.code == CALENDAR_FEED_NOT_ACTIVE
    gone = make_user("gone")
    User.objects.filter(pk=gone.pk).update(is_active=False)
    gone.refresh_from_db()
    with pytest.raises(PermissionDenied) as refused:
        calendar_feed_create(actor=gone)
    assert refused.value.code == PERMISSION_NOT_SIGNED_IN
    assert not CalendarFeed.objects.exists()


def test_the_database_holds_one_active_feed_per_person(world: World) -> None:
    calendar_feed_create(actor=world.team.lead)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(user=world.team.lead, token_hash="0" * 64)


def test_the_last_use_is_written_at_most_hourly(world: World, time_machine: Any) -> None:
    token = calendar_feed_create(actor=world.team.lead).token
    calendar_feed_open(token=token)
    first = CalendarFeed.objects.get().last_used_at
    time_machine.move_to(TODAY + dt.timedelta(minutes=30))
    calendar_feed_open(token=token)
    assert CalendarFeed.objects.get().last_used_at == first
    time_machine.move_to(TODAY + dt.timedelta(hours=2))
    calendar_feed_open(token=token)
    assert CalendarFeed.objects.get().last_used_at != first


def test_visits_due_past_a_day_s_share_are_counted_not_read(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    # given more certificates with a visit due on one day than the grid lists on a day
    certs = [world.granted() for _ in range(DAY_CAP + 2)]
    due = {
        ScheduledVisit.objects.filter(certificate=c).order_by("due_date").first().due_date  # type: ignore[union-attr]
        for c in certs
    }
    assert len(due) == 1  # granted on the same day, so due on the same day
    [day] = due
    login(client, world.team.manager)
    month = day.strftime("%Y-%m")

    # when the month is read, that day lists DAY_CAP visits and counts the rest
    page = client.get(CALENDAR, {"month": month}).content.decode()
    assert html.unescape(page).count("Due: Surveillance 1 of ") == DAY_CAP
    assert "2 more<span" in page
    assert f"{len(certs)} visits due in" in text(client.get(CALENDAR, {"month": month}))
    # and its page lists them all
    day_page = html.unescape(client.get(CALENDAR, {"day": day.isoformat()}).content.decode())
    assert day_page.count("Due: Surveillance 1 of ") == len(certs)


def test_each_day_of_the_month_lists_its_first_visits_by_number_in_three_queries(
    world: World,
) -> None:
    from apcert.cycle.selectors import visits_due_per_day, visits_for_cb_staff

    # Given more certificates with a first surveillance due on one day than a day lists,
    # and a few due the next day
    busy = [world.granted()]
    decided = busy[0].initial_decision_on
    busy += [world.granted(decided_on=decided) for _ in range(DAY_CAP + 1)]
    quiet = [world.granted(decided_on=decided + dt.timedelta(days=1)) for _ in range(3)]

    def due(cert: Any) -> dt.date:
        return ScheduledVisit.objects.get(
            certificate=cert, kind="surveillance", sequence=1
        ).due_date

    day, next_day = due(busy[0]), due(quiet[0])
    assert {due(c) for c in busy} == {day} and {due(c) for c in quiet} == {next_day} != {day}
    visits = visits_for_cb_staff(world.team.manager)

    # When the month's grid reads them
    with CaptureQueriesContext(connection) as queries:
        rows, counts = visits_due_per_day(
            visits,
            first=day - dt.timedelta(days=3),
            last=next_day + dt.timedelta(days=3),
            per_day=DAY_CAP,
        )
        numbers = [(v.due_date, v.certificate_number, v.cb.code) for v in rows]

    # Then each day holds its first DAY_CAP by certificate number, and the counts all of them
    assert numbers == [
        *[(day, n, world.team.cb.code) for n in sorted(c.number for c in busy)[:DAY_CAP]],
        *[(next_day, n, world.team.cb.code) for n in sorted(c.number for c in quiet)],
    ]
    assert counts == {day: len(busy), next_day: len(quiet)}
    # the counts, the keys of each day's first few, and those rows with what they show
    assert len(queries) == 3, [q["sql"] for q in queries.captured_queries]
