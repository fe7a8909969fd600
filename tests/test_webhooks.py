"""Webhooks: the outbox row is written with the change, matched against each subscription's
owner and filters, sent signed to a real receiver on 127.0.0.1 that fails, times out and
then accepts (each event accepted once, in order per certificate), retried with growing
delays, the subscription paused (and its owner mailed) when every try of more than a day
failed, resumed, replayed."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apcert.accounts.models import User
from apcert.audit.models import AuditEvent
from apcert.bodies.services import cb_staff_add
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_restore, certificate_suspend
from apcert.core.errors import DomainError
from apcert.webhooks.addresses import is_public
from apcert.webhooks.choices import DeliveryState, SubscriptionStatus
from apcert.webhooks.delivery import claim, webhooks_deliver_due
from apcert.webhooks.errors import (
    WEBHOOK_EVENTS_INVALID,
    WEBHOOK_FILTER_INVALID,
    WEBHOOK_NOT_ALLOWED,
    WEBHOOK_SUBSCRIPTION_TRANSITION_NOT_ALLOWED,
    WEBHOOK_URL_INVALID,
    WEBHOOK_URL_PRIVATE,
)
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from apcert.webhooks.services import (
    Filters,
    NewSubscription,
    webhook_pause,
    webhook_replay,
    webhook_resume,
    webhook_subscribe,
)
from apcert.webhooks.tasks import deliver_webhooks, delivery_queue
from tests.factories import World, make_user
from tests.webhooks_support import receiver

pytestmark = pytest.mark.django_db

CERT_EVENTS = [
    "certificate.granted",
    "certificate.suspended",
    "certificate.restored",
    "certificate.withdrawn",
]


def cb_admin_of(world: World, cb: Any = None) -> User:
    user = make_user("cbadmin", email="cb-admin@example.test")
    cb_staff_add(actor=world.secretariat, cb=cb or world.team.cb, user=user, role="admin")
    return user


def subscribe(
    world: World,
    *,
    url: str = "http://127.0.0.1:9/hooks",
    events: list[str] | None = None,
    place: Any = None,
    actor: User | None = None,
    **filters: Any,
) -> NewSubscription:
    place = place or world.team.cb
    actor = actor or (world.org_user if place == world.org else cb_admin_of(world, place))
    return webhook_subscribe(
        actor=actor,
        place=place,
        name="ERP",
        url=url,
        event_types=events or CERT_EVENTS,
        filters=Filters(**filters),
    )


def suspend(world: World, cert: Certificate, days: int = 10) -> Certificate:
    return certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="missed_surveillance",
        reason="Surveillance not carried out",
        decided_on=cert.status_since + dt.timedelta(days=days),
    )


def restore(world: World, cert: Certificate, days: int = 20) -> Certificate:
    return certificate_restore(
        actor=world.team.decision_maker,
        certificate=cert,
        reason="Surveillance carried out",
        decided_on=cert.status_since + dt.timedelta(days=days),
    )


def rows(subscription: WebhookSubscription) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(subscription=subscription).order_by("id"))


def deliver_until_done(rounds: int = 40) -> None:
    """Send what is due, round after round, until nothing is left to send (the retry delays
    of these tests are short)."""
    import time

    for _ in range(rounds):
        webhooks_deliver_due(budget_seconds=10)
        if not WebhookDelivery.objects.filter(state=DeliveryState.PENDING).exists():
            return
        time.sleep(0.1)
    raise AssertionError("deliveries still pending")


@pytest.fixture
def fast(settings: Any) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_RETRY_DELAYS = [0.05] * 11


# --- the outbox ------------------------------------------------------------------------------


def test_a_change_writes_its_event_to_the_outbox_in_its_transaction(world: World) -> None:
    cert = world.granted()
    sub = subscribe(world).subscription
    suspend(world, cert)
    [row] = rows(sub)
    event = AuditEvent.objects.get(seq=row.audit_seq)
    assert event.action == "certificate.suspend"
    assert row.event_type == "certificate.suspended"
    assert row.subject == f"certificate:{cert.number}"
    assert row.state == DeliveryState.PENDING
    body = json.loads(row.body)
    assert body["type"] == "certificate.suspended"
    assert body["data"]["certificate"] == cert.number
    assert body["data"]["status"] == "suspended"
    assert body["data"]["cb"]["code"] == world.team.cb.code
    assert body["data"]["holder"] == {"name": world.org.legal_name, "country": "DE"}
    assert body["data"]["categories"] == ["EPL"]
    assert body["data"]["reason_category"] == "missed_surveillance"


def test_a_change_rolled_back_leaves_no_outbox_row(world: World) -> None:
    cert = world.granted()
    sub = subscribe(world).subscription
    with pytest.raises(RuntimeError), transaction.atomic():
        suspend(world, cert)
        assert len(rows(sub)) == 1
        raise RuntimeError("the change fails after its event")
    assert rows(sub) == []
    assert Certificate.objects.get(pk=cert.pk).status == "current"


def test_the_delivery_task_is_queued_after_commit_once(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    cert = world.granted()
    with receiver(script=["hold"]) as r:
        subscribe(world, url=r.url)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            suspend(world, cert)
        # the change and its commit sent nothing: a receiver that hangs delays no request
        assert r.received == []
    assert len(callbacks) == 1
    queued = DBTaskResult.objects.filter(task_path=deliver_webhooks.module_path)
    assert queued.count() == 1
    delivery_queue()  # another change: a run is already queued
    assert queued.count() == 1


# --- who receives what -----------------------------------------------------------------------


def test_filters_by_country_category_holder_and_cb(world: World) -> None:
    cert = world.granted()
    other = World.build()
    subs = {
        "DE": subscribe(world, place=world.org, country="DE"),
        "FR": subscribe(world, place=world.org, country="FR"),
        "EPL": subscribe(world, place=world.org, category="EPL"),
        "PWB": subscribe(world, place=world.org, category="PWB"),
        "holder": subscribe(world, place=world.org, organization=world.org),
        "other holder": subscribe(world, place=world.org, organization=other.org),
        "cb": subscribe(world, place=world.org, cb=world.team.cb),
        "other cb": subscribe(world, place=world.org, cb=other.team.cb),
    }
    suspend(world, cert)
    got = {name: len(rows(s.subscription)) for name, s in subs.items()}
    assert got == {
        "DE": 1,
        "FR": 0,
        "EPL": 1,
        "PWB": 0,
        "holder": 1,
        "other holder": 0,
        "cb": 1,
        "other cb": 0,
    }


def test_only_the_chosen_events_are_written(world: World) -> None:
    cert = world.granted()
    sub = subscribe(world, events=["certificate.restored"]).subscription
    suspend(world, cert)
    assert rows(sub) == []
    restore(world, cert)
    assert [r.event_type for r in rows(sub)] == ["certificate.restored"]


def test_a_cb_receives_its_own_application_events_and_never_another_cbs(world: World) -> None:
    other = World.build()
    events = ["application.submitted", "application.accepted", "assessment.planned"]
    mine = subscribe(world, events=events).subscription
    theirs = subscribe(other, place=other.team.cb, events=events).subscription
    app = world.accepted_application()
    world.assessment(app, report=False)
    assert [r.event_type for r in rows(mine)] == events
    assert rows(theirs) == []
    body = json.loads(rows(mine)[0].body)
    assert body["data"]["application"] == app.pk
    assert body["data"]["cb"]["code"] == world.team.cb.code


def test_another_cbs_and_organizations_subscriptions_get_no_certificate_events(
    world: World,
) -> None:
    other = World.build()
    cert = world.granted()
    cb_sub = subscribe(other, place=other.team.cb).subscription
    org_sub = subscribe(other, place=other.org, actor=other.org_user).subscription
    own_org = subscribe(world, place=world.org).subscription
    suspend(world, cert)
    assert rows(cb_sub) == [] and rows(org_sub) == []
    assert len(rows(own_org)) == 1


def test_a_paused_subscription_keeps_what_happens_and_sends_it_on_resuming(
    world: World, fast: None
) -> None:
    cert = world.granted()
    new = subscribe(world)
    admin = new.subscription.created_by
    assert admin is not None
    webhook_pause(actor=admin, subscription=new.subscription)
    suspend(world, cert)
    [row] = rows(new.subscription)
    assert webhooks_deliver_due(budget_seconds=5).delivered == 0  # paused: nothing is sent
    assert WebhookDelivery.objects.get(pk=row.pk).state == DeliveryState.PENDING
    with receiver() as r:
        WebhookSubscription.objects.filter(pk=new.subscription.pk).update(url=r.url)
        webhook_resume(actor=admin, subscription=new.subscription)
        deliver_until_done()
        assert [x.message_id for x in r.accepted()] == [row.message_id]


# --- the rules of subscribing ----------------------------------------------------------------


def test_subscribing_is_for_the_places_administrators_with_valid_input(world: World) -> None:
    with pytest.raises(DomainError) as exc:
        subscribe(world, actor=world.team.manager)
    assert exc.value.code == WEBHOOK_NOT_ALLOWED
    with pytest.raises(DomainError) as exc:
        subscribe(world, url="ftp://example.test/x")
    assert exc.value.code == WEBHOOK_URL_INVALID
    with pytest.raises(DomainError) as exc:
        subscribe(world, place=world.org, events=["application.submitted"])
    assert exc.value.code == WEBHOOK_EVENTS_INVALID
    with pytest.raises(DomainError) as exc:
        subscribe(world, category="NOPE")
    assert exc.value.code == WEBHOOK_FILTER_INVALID
    assert not WebhookSubscription.objects.exists()
    new = subscribe(world)
    assert new.secret.startswith("whsec_")
    assert new.subscription.secret == new.secret
    assert new.secret not in json.dumps(AuditEvent.objects.latest("seq").after)
    admin = new.subscription.created_by
    assert admin is not None
    with pytest.raises(DomainError) as exc:
        webhook_resume(actor=admin, subscription=new.subscription)
    assert exc.value.code == WEBHOOK_SUBSCRIPTION_TRANSITION_NOT_ALLOWED
    with pytest.raises(DomainError) as exc:
        webhook_pause(actor=world.org_user, subscription=new.subscription)
    assert exc.value.code == WEBHOOK_NOT_ALLOWED


# --- delivery to a real receiver -------------------------------------------------------------


def test_a_receiver_that_fails_times_out_then_accepts_gets_each_event_once_in_order(
    world: World, fast: None
) -> None:
    first = world.granted()
    second = world.granted()
    with receiver(script=["fail", "timeout", "fail"], timeout_wait=1.0) as r:
        new = subscribe(world, url=r.url)
        suspend(world, first)
        suspend(world, second)
        restore(world, first)
        restore(world, second, days=25)
        suspend(world, first, days=30)
        deliver_until_done()
        accepted = r.accepted()
    outbox = rows(new.subscription)
    assert len(outbox) == 5
    assert all(row.state == DeliveryState.DELIVERED for row in outbox)
    # every event accepted exactly once
    assert sorted(x.message_id for x in accepted) == sorted(row.message_id for row in outbox)
    # in order per certificate
    for cert in (first, second):
        sent = [
            (x.payload["type"], x.payload["timestamp"])
            for x in accepted
            if x.payload["data"]["certificate"] == cert.number
        ]
        expected = [
            (row.event_type, json.loads(row.body)["timestamp"])
            for row in outbox
            if row.subject == f"certificate:{cert.number}"
        ]
        assert sent == expected
    # every request signed; the signature verifies with the library's own verifier
    hook = Webhook(new.secret)
    for x in r.received:
        assert hook.verify(x.body, x.headers) == json.loads(x.body)
    # the log holds the failure, the timeout and the success
    log = list(WebhookAttempt.objects.filter(delivery__subscription=new.subscription))
    assert {a.status_code for a in log} == {500, None, 204}
    assert any("no answer within" in a.error for a in log)
    assert any(a.response_excerpt == "down for maintenance" for a in log)


def test_a_forged_signature_does_not_verify(world: World, fast: None) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        deliver_until_done()
    [got] = r.received
    with pytest.raises(WebhookVerificationError):
        Webhook(subscribe(world).secret).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new.secret).verify(got.body.replace(b"suspended", b"current"), got.headers)


def test_retries_wait_longer_each_time_then_the_subscription_pauses_and_its_owner_is_mailed(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    cert = world.granted()
    delays = settings.WEBHOOK_RETRY_DELAYS
    assert sum(delays) > 24 * 3600
    with receiver(script=["fail"] * (len(delays) + 1)) as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        [row] = rows(new.subscription)
        start = timezone.now()
        waits = []
        with time_machine.travel(start, tick=True) as clock:
            with django_capture_on_commit_callbacks(execute=True):
                for _ in range(len(delays) + 1):
                    before = WebhookDelivery.objects.get(pk=row.pk)
                    clock.move_to(max(before.next_attempt_at, timezone.now()))
                    webhooks_deliver_due(budget_seconds=5)
                    after = WebhookDelivery.objects.get(pk=row.pk)
                    waits.append((after.next_attempt_at - timezone.now()).total_seconds())
            paused_at = timezone.now()
        assert len(r.received) == len(delays) + 1
    # each wait the next delay, growing
    for wait, delay in zip(waits, delays, strict=False):
        assert delay - 2 <= wait <= delay
    assert paused_at - start > dt.timedelta(hours=24)
    sub = WebhookSubscription.objects.get(pk=new.subscription.pk)
    assert sub.status == SubscriptionStatus.PAUSED
    assert row.message_id in sub.status_reason
    assert [m.to for m in mail.outbox] == [["cb-admin@example.test"]]
    assert "paused" in mail.outbox[0].subject
    # nothing is lost: the row waits; resuming sends it
    assert WebhookDelivery.objects.get(pk=row.pk).state == DeliveryState.PENDING
    assert sub.created_by is not None
    with receiver() as r:
        WebhookSubscription.objects.filter(pk=sub.pk).update(url=r.url)
        webhook_resume(actor=sub.created_by, subscription=sub)
        deliver_until_done()
        assert [x.message_id for x in r.accepted()] == [row.message_id]


def test_a_delivery_claimed_by_a_worker_that_died_is_sent_after_its_lease(
    world: World, settings: Any
) -> None:
    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        [row] = rows(new.subscription)
        assert claim(row.pk, timezone.now()) is not None  # and then the worker is killed
        webhooks_deliver_due(budget_seconds=5)
        assert r.received == []
        later = timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)
        with time_machine.travel(later, tick=True):
            webhooks_deliver_due(budget_seconds=5)
            webhooks_deliver_due(budget_seconds=5)
        assert [x.message_id for x in r.accepted()] == [row.message_id]
    assert WebhookDelivery.objects.get(pk=row.pk).state == DeliveryState.DELIVERED


def test_a_delivered_event_is_sent_again_only_when_replayed(world: World, fast: None) -> None:
    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        deliver_until_done()
        deliver_until_done()
        [row] = rows(new.subscription)
        assert len(r.received) == 1
        admin = new.subscription.created_by
        assert admin is not None
        with pytest.raises(DomainError) as exc:
            webhook_replay(actor=world.org_user, delivery=row)
        assert exc.value.code == WEBHOOK_NOT_ALLOWED
        webhook_replay(actor=admin, delivery=row)
        deliver_until_done()
        assert [x.message_id for x in r.received] == [row.message_id, row.message_id]
        assert r.received[0].body == r.received[1].body
    log = list(WebhookAttempt.objects.filter(delivery=row).order_by("id"))
    assert [a.replay for a in log] == [False, True]


def test_the_task_sends_and_queues_itself_for_the_next_retry(world: World, fast: None) -> None:
    from django_tasks_db.models import DBTaskResult

    cert = world.granted()
    with receiver(script=["fail"]) as r:
        subscribe(world, url=r.url)
        suspend(world, cert)
        result = deliver_webhooks.call()
        assert result == {"delivered": 0, "failed": 1}
        assert DBTaskResult.objects.filter(task_path=deliver_webhooks.module_path).count() == 1
        deliver_until_done()
        assert len(r.accepted()) == 1


# --- the events of the certificate's other changes ----------------------------------------


def test_a_transfer_is_told_to_both_cbs(world: World) -> None:
    from tests.flows_support import DAYS, reported, visit
    from tests.test_flows_transfer import _new_cb, _transfer

    old = world.granted()
    new_team = _new_cb(world)
    old_cb = subscribe(world, events=["certificate.transferred"]).subscription
    new_cb = subscribe(world, place=new_team.cb, events=["certificate.transferred"]).subscription
    holder = subscribe(world, place=world.org, events=["certificate.transferred"]).subscription
    a = visit(world, old, "transfer_review", team=new_team, findings=("observation",))
    new = _transfer(new_team, old, a, decided_on=reported(a) + 5 * DAYS)
    for sub in (old_cb, new_cb, holder):
        [row] = rows(sub)
        data = json.loads(row.body)["data"]
        assert data["certificate"] == new.number
        assert data["cb"]["code"] == new_team.cb.code
        assert data["transferred_from"] == {"certificate": old.number, "cb": world.team.cb.code}


def test_a_certificate_under_review_is_announced_granted_when_published(world: World) -> None:
    from apcert.certificates.services import certificate_publication_approve
    from apcert.schemes.services import scheme_publication_review_set

    sub = subscribe(world, events=["certificate.granted"]).subscription
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)
    cert = world.granted()
    assert Certificate.objects.get(pk=cert.pk).status == "draft"
    assert rows(sub) == []  # a draft is never public
    certificate_publication_approve(actor=world.secretariat, certificate=cert)
    [row] = rows(sub)
    assert AuditEvent.objects.get(seq=row.audit_seq).action == "certificate.publish"
    assert json.loads(row.body)["data"]["status"] == "current"


def test_expiry_and_reissue_are_told(world: World) -> None:
    from apcert.certificates.services import certificate_expire, certificate_holder_renamed
    from apcert.organizations.services import organization_rename

    cert = world.granted()
    sub = subscribe(world, events=["certificate.reissued", "certificate.expired"]).subscription
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Renamed AG")
    certificate_holder_renamed(
        actor=world.team.decision_maker,
        certificate=cert,
        decided_on=cert.initial_decision_on + dt.timedelta(days=100),
    )
    certificate_expire(certificate=cert, as_of=cert.expires_on + dt.timedelta(days=1))
    reissued, expired = rows(sub)
    data = json.loads(reissued.body)["data"]
    assert (reissued.event_type, data["issue"], data["holder"]["name"]) == (
        "certificate.reissued",
        2,
        "Renamed AG",
    )
    assert data["issue_reason"] and data["change_summary"]
    assert expired.event_type == "certificate.expired"
    assert json.loads(expired.body)["data"]["status"] == "expired"


def test_a_subscription_deleted_while_its_event_is_sent_is_no_error(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apcert.webhooks import delivery

    cert = world.granted()
    with receiver() as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        admin = new.subscription.created_by
        assert admin is not None
        sent = delivery.post

        def post_then_delete(url: str, body: str, headers: dict[str, str]) -> Any:
            answer = sent(url, body, headers)
            from apcert.webhooks.services import webhook_delete

            webhook_delete(actor=admin, subscription=new.subscription)
            return answer

        monkeypatch.setattr(delivery, "post", post_then_delete)
        assert webhooks_deliver_due(budget_seconds=5).delivered == 1
    assert not WebhookDelivery.objects.exists()
    assert not WebhookAttempt.objects.exists()


# --- receivers on the server's own networks --------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://[::ffff:192.168.0.1]/",
        "http://100.64.0.1/",
    ],
)
def test_a_receiver_on_a_private_address_is_refused_unless_allowed(
    world: World, settings: Any, url: str
) -> None:
    settings.WEBHOOK_PRIVATE_ADDRESSES = False
    with pytest.raises(DomainError) as exc:
        subscribe(world, url=url)
    assert exc.value.code == WEBHOOK_URL_PRIVATE
    assert not WebhookSubscription.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="webhook").exists()
    settings.WEBHOOK_PRIVATE_ADDRESSES = True
    assert subscribe(world, url=url).subscription.url == url


def test_public_addresses_are_told_from_the_others() -> None:
    assert is_public("8.8.8.8") and is_public("2606:4700:4700::1111")
    for address in ("127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.1.1",
                    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1",  # noqa: S104
                    "224.0.0.1", "not an address"):  # fmt: skip
        assert not is_public(address), address


def test_a_delivery_never_connects_to_a_private_address_at_send_time(
    world: World, fast: None, settings: Any
) -> None:
    # A name that pointed elsewhere when subscribed and resolves to the server's own network
    # when sent: the connection is checked on the address it reached.
    cert = world.granted()
    with receiver(script=[]) as r:
        new = subscribe(world, url=r.url)
        settings.WEBHOOK_PRIVATE_ADDRESSES = False
        suspend(world, cert)
        webhooks_deliver_due(budget_seconds=5)
        assert r.received == []
    attempt = WebhookAttempt.objects.get(delivery__subscription=new.subscription)
    assert attempt.status_code is None and "not a public address" in attempt.error
    assert rows(new.subscription)[0].state == DeliveryState.PENDING
