"""Webhooks for buyers, without an account: a public form, a link mailed to confirm (and to
manage the subscription), public certificate events only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from apcert.core.errors import DomainError
from apcert.core.ratelimit import RateLimiter
from apcert.webhooks import views
from apcert.webhooks.choices import SubscriptionOwner, SubscriptionStatus
from apcert.webhooks.errors import (
    WEBHOOK_EMAIL_INVALID,
    WEBHOOK_EVENTS_INVALID,
    WEBHOOK_LINK_INVALID,
)
from apcert.webhooks.models import WebhookDelivery, WebhookSubscription
from apcert.webhooks.services import webhook_by_link, webhook_subscribe_public
from tests.factories import World
from tests.test_webhooks import suspend

pytestmark = pytest.mark.django_db

FORM = "/webhooks/subscribe"


@pytest.fixture(autouse=True)
def _fresh_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "_limiter", RateLimiter(views.SUBSCRIBE_PER_HOUR, 3600))


def form(**changes: Any) -> dict[str, Any]:
    return {
        "email": "buyer@example.test",
        "name": "Supplier watch",
        "url": "https://buyer.example.test/hooks",
        "event_types": ["certificate.suspended", "certificate.withdrawn"],
        "filter_country": "DE",
        **changes,
    }


def subscribe_by_form(client: Client, capture: Any) -> str:
    """Fill in the form; return the link mailed."""
    with capture(execute=True):
        answer = client.post(FORM, form())
    assert answer.status_code == 200
    assert "Check your mail" in answer.content.decode()
    [message] = mail.outbox
    assert message.to == ["buyer@example.test"]
    found = re.search(r"http://testserver/webhooks/s/(\S+)", message.body)
    assert found
    return found.group(0).removeprefix("http://testserver")


def test_a_buyer_subscribes_confirms_by_the_mailed_link_and_receives_public_events(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    assert client.get(FORM).status_code == 200
    cert = world.granted()
    link = subscribe_by_form(client, django_capture_on_commit_callbacks)
    sub = WebhookSubscription.objects.get()
    assert (sub.owner_kind, sub.status, sub.owner_email) == (
        SubscriptionOwner.PUBLIC,
        SubscriptionStatus.PENDING,
        "buyer@example.test",
    )
    # pending: nothing is written for it
    suspend(world, cert, days=5)
    assert not WebhookDelivery.objects.exists()
    page = client.get(link)
    assert 'value="confirm"' in page.content.decode()
    assert sub.secret not in page.content.decode()
    confirmed = client.post(link, {"action": "confirm"})
    assert confirmed.status_code == 200
    assert f'<code id="webhook-secret">{sub.secret}</code>' in confirmed.content.decode()
    assert WebhookSubscription.objects.get().status == SubscriptionStatus.ACTIVE
    assert sub.secret not in client.get(link).content.decode()  # shown once
    from tests.test_webhooks import restore

    restore(world, cert, days=15)
    suspend(world, cert, days=30)
    [row] = WebhookDelivery.objects.filter(subscription=sub)
    assert row.event_type == "certificate.suspended"
    assert json.loads(row.body)["data"]["certificate"] == cert.number
    # pause and delete with the same link
    assert client.post(link, {"action": "pause"}).status_code == 200
    assert WebhookSubscription.objects.get().status == SubscriptionStatus.PAUSED
    assert client.post(link, {"action": "confirm"}).status_code == 409
    assert client.post(link, {"action": "delete"}).status_code == 200
    assert not WebhookSubscription.objects.exists()
    gone = client.get(link)
    assert gone.status_code == 404
    with pytest.raises(DomainError) as exc:
        webhook_by_link(link.rsplit("/", 1)[1])
    assert exc.value.code == WEBHOOK_LINK_INVALID


def test_a_buyer_gets_only_public_events_and_is_checked(client: Client, world: World) -> None:
    answer = client.post(FORM, form(event_types=["application.submitted"]))
    assert answer.status_code == 400
    assert client.post(FORM, form(email="not an address")).status_code == 400
    assert not WebhookSubscription.objects.exists()
    with pytest.raises(DomainError) as exc:
        webhook_subscribe_public(
            email="buyer@example.test",
            name="x",
            url="https://buyer.example.test/hooks",
            event_types=["assessment.planned"],
            link_base="http://testserver/webhooks/s/",
        )
    assert exc.value.code == WEBHOOK_EVENTS_INVALID
    with pytest.raises(DomainError) as exc:
        webhook_subscribe_public(
            email="nobody",
            name="x",
            url="https://buyer.example.test/hooks",
            event_types=["certificate.granted"],
            link_base="http://testserver/webhooks/s/",
        )
    assert exc.value.code == WEBHOOK_EMAIL_INVALID
    assert not WebhookSubscription.objects.exists()


def test_the_public_form_is_limited_per_address(client: Client, world: World) -> None:
    for _ in range(views.SUBSCRIBE_PER_HOUR):
        assert client.post(FORM, form()).status_code == 200
    refused = client.post(FORM, form())
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert WebhookSubscription.objects.count() == views.SUBSCRIBE_PER_HOUR


def test_a_subscription_never_confirmed_is_removed_after_a_week(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    import time_machine
    from django.utils import timezone

    from apcert.audit.models import AuditEvent
    from apcert.webhooks.services import UNCONFIRMED_DAYS, webhooks_unconfirmed_remove

    link = subscribe_by_form(client, django_capture_on_commit_callbacks)
    confirmed = webhook_subscribe_public(
        email="other@example.test",
        name="Confirmed",
        url="https://other.example.test/hooks",
        event_types=["certificate.granted"],
        link_base="http://testserver/webhooks/s/",
    )
    WebhookSubscription.objects.filter(pk=confirmed.pk).update(status=SubscriptionStatus.ACTIVE)
    assert webhooks_unconfirmed_remove() == 0
    later = timezone.now() + dt.timedelta(days=UNCONFIRMED_DAYS, hours=1)
    with time_machine.travel(later, tick=False):
        assert webhooks_unconfirmed_remove() == 1
    assert list(WebhookSubscription.objects.values_list("name", flat=True)) == ["Confirmed"]
    assert AuditEvent.objects.latest("seq").action == "webhook.delete"
    assert client.get(link).status_code == 404
