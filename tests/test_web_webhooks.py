"""The webhook pages of the back office: an administrator of a CB or an organization makes a
webhook (its secret shown once), sees it with its delivery log, pauses, resumes, replays a
delivery and deletes it; nobody else reaches them."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from apcert.webhooks.choices import DeliveryState, SubscriptionStatus
from apcert.webhooks.errors import WEBHOOK_NOT_ALLOWED
from apcert.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.factories import World, make_user
from tests.test_webhooks import cb_admin_of, deliver_until_done, restore, subscribe, suspend
from tests.webhooks_support import receiver

pytestmark = pytest.mark.django_db

LIST = "/office/account/webhooks/"
NEW = "/office/account/webhooks/new"


def text(response: HttpResponse) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def form(place: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Supplier database",
        "place": place,
        "url": "https://hooks.example.test/apcert",
        "event_types": ["certificate.suspended", "application.submitted"],
        **changes,
    }


def test_a_cb_admin_makes_a_webhook_and_sees_its_secret_once(client: Client, world: World) -> None:
    admin = cb_admin_of(world)
    client.force_login(admin)
    page = client.get(NEW)
    assert page.status_code == 200
    assert f"cb:{world.team.cb.pk}" in page.content.decode()
    made = client.post(NEW, form(f"cb:{world.team.cb.pk}", filter_country="de"))
    assert made.status_code == 200
    secret = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', made.content.decode())
    assert secret
    sub = WebhookSubscription.objects.get()
    assert sub.secret == secret.group(1)
    assert sub.cb == world.team.cb and sub.filter_country == "DE"
    assert sub.event_types == ["certificate.suspended", "application.submitted"]
    listed = client.get(LIST)
    assert "Supplier database" in text(listed)
    detail = client.get(f"{LIST}{sub.pk}/")
    assert detail.status_code == 200
    assert secret.group(1) not in detail.content.decode()  # shown once only
    assert "No event has been sent" in text(detail)


def test_an_organization_may_not_choose_a_cbs_events(client: Client, world: World) -> None:
    client.force_login(world.org_user)
    answer = client.post(NEW, form(f"org:{world.org.pk}"))
    assert answer.status_code == 400
    assert "Choose at least one event" in text(answer)
    assert not WebhookSubscription.objects.exists()
    answer = client.post(NEW, form(f"org:{world.org.pk}", event_types=["certificate.granted"]))
    assert answer.status_code == 200
    assert WebhookSubscription.objects.get().organization == world.org


def test_bad_input_is_refused_and_writes_nothing(client: Client, world: World) -> None:
    client.force_login(cb_admin_of(world))
    place = f"cb:{world.team.cb.pk}"
    for bad in (
        form(place, url="not an address"),
        form(place, event_types=[]),
        form(place, filter_cb="NOPE"),
        form(place, filter_category="NOPE"),
        form("cb:999999"),
    ):
        assert client.post(NEW, bad).status_code == 400
    assert not WebhookSubscription.objects.exists()


def test_who_is_not_an_administrator_is_refused(client: Client, world: World) -> None:
    sub = subscribe(world).subscription
    for user in (world.team.manager, make_user("nobody")):
        client.force_login(user)
        for url in (LIST, NEW):
            answer = client.get(url)
            assert answer.status_code == 403
            assert WEBHOOK_NOT_ALLOWED in answer.content.decode() or "administrator" in text(answer)
        assert client.get(f"{LIST}{sub.pk}/").status_code == 404
        assert client.post(f"{LIST}{sub.pk}/pause").status_code == 404
    # an administrator of another CB does not see it either
    other = World.build()
    client.force_login(cb_admin_of(other, other.team.cb))
    assert client.get(f"{LIST}{sub.pk}/").status_code == 404
    assert "Supplier" not in text(client.get(LIST))
    assert WebhookSubscription.objects.get(pk=sub.pk).status == SubscriptionStatus.ACTIVE


def test_pause_resume_replay_and_delete_from_the_detail_page(
    client: Client, world: World, settings: Any
) -> None:
    settings.WEBHOOK_RETRY_DELAYS = [0.05] * 11
    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        sub = new.subscription
        assert sub.created_by is not None
        client.force_login(sub.created_by)
        detail = f"{LIST}{sub.pk}/"
        assert client.post(f"{detail}pause").status_code == 302
        assert WebhookSubscription.objects.get(pk=sub.pk).status == SubscriptionStatus.PAUSED
        suspend(world, cert)
        deliver_until_done_or_paused()
        assert r.received == []
        assert client.post(f"{detail}resume").status_code == 302
        deliver_until_done()
        [row] = WebhookDelivery.objects.filter(subscription=sub)
        assert row.state == DeliveryState.DELIVERED
        page = text(client.get(detail))
        assert row.message_id in page and "HTTP 204" in page and "Replay" in page
        assert client.post(f"{detail}deliveries/{row.pk}/replay").status_code == 302
        deliver_until_done()
        assert [x.message_id for x in r.accepted()] == [row.message_id, row.message_id]
        assert "(replay)" in text(client.get(detail))
    assert client.post(f"{detail}frobnicate").status_code == 404
    assert client.post(f"{detail}delete").status_code == 302
    assert not WebhookSubscription.objects.filter(pk=sub.pk).exists()


def deliver_until_done_or_paused() -> None:
    from apcert.webhooks.delivery import webhooks_deliver_due

    assert webhooks_deliver_due(budget_seconds=2).delivered == 0


def test_the_navigation_links_the_webhooks_for_those_who_administer_a_place(
    client: Client, world: World
) -> None:
    admin = cb_admin_of(world)
    client.force_login(admin)
    home = client.get("/office/")
    assert 'href="/office/account/webhooks/"' in home.content.decode()
    client.force_login(world.team.assessor)
    assert 'href="/office/account/webhooks/"' not in client.get("/office/").content.decode()


def _queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_the_log_take_as_many_queries_for_many_rows_as_for_one(
    client: Client, world: World
) -> None:
    cert = world.granted()
    admin = cb_admin_of(world)
    client.force_login(admin)
    first = subscribe(world, actor=admin).subscription
    suspend(world, cert)
    one = (_queries(client, LIST), _queries(client, f"{LIST}{first.pk}/"))
    for _ in range(4):
        subscribe(world, actor=admin)
    restore(world, cert)
    suspend(world, cert, days=30)
    assert WebhookDelivery.objects.filter(subscription=first).count() == 3
    many = (_queries(client, LIST), _queries(client, f"{LIST}{first.pk}/"))
    assert many == one
