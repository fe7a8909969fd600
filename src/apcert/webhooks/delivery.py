"""Sending the outbox: claim what is due, POST it signed, log the answer, schedule a retry.

Run by the worker's task (``tasks.deliver_webhooks``), never by a request. A row is due when
its ``next_attempt_at`` has come, its subscription is active, no earlier row of the same
subscription and subject is still to be sent (events about one certificate arrive in the
order they happened), and no worker holds it: a claim is a conditional UPDATE that only one
worker can win, valid for a lease. A worker killed while sending leaves its claim to run out,
and the row is due again: a receiver may see a message twice (it drops the repeat by its
``webhook-id``), never lose one. A row answered 2xx is marked delivered and is never sent
again, except by a person's replay.

A failed try is retried after the delays of ``WEBHOOK_RETRY_DELAYS`` (together more than a
day). When they have all passed and it still fails, the subscription is paused, its owner is
mailed, and the row stays to be sent: resuming the subscription sends it, then what followed.

Signatures follow the Standard Webhooks specification, with its reference library:
``webhook-id``, ``webhook-timestamp`` (the time of the try, in seconds) and
``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body`` under the
subscription's secret).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from apcert.webhooks.addresses import GuardedHTTPHandler, GuardedHTTPSHandler
from apcert.webhooks.choices import DeliveryState, SubscriptionStatus
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

#: How much of a receiver's answer the log keeps.
EXCERPT_CHARS = 500
USER_AGENT = "apcert-webhooks/1"


def retry_delays() -> list[dt.timedelta]:
    return [dt.timedelta(seconds=s) for s in settings.WEBHOOK_RETRY_DELAYS]


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def _unclaimed(now: dt.datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def due(now: dt.datetime) -> Any:
    """The rows that may be sent at ``now``, the earliest first."""
    earlier = WebhookDelivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        subject=OuterRef("subject"),
        id__lt=OuterRef("id"),
        state=DeliveryState.PENDING,
    )
    return (
        WebhookDelivery.objects.filter(
            _unclaimed(now),
            state=DeliveryState.PENDING,
            next_attempt_at__lte=now,
            subscription__status=SubscriptionStatus.ACTIVE,
        )
        .exclude(Exists(earlier))
        .order_by("next_attempt_at", "id")
    )


def next_due_at() -> dt.datetime | None:
    """When a row will next be due (a claim running out counts), or None."""
    pending = WebhookDelivery.objects.filter(
        state=DeliveryState.PENDING, subscription__status=SubscriptionStatus.ACTIVE
    )
    first = pending.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    claims = (
        pending.filter(claimed_until__isnull=False)
        .order_by("claimed_until")
        .values_list("claimed_until", flat=True)
        .first()
    )
    times = [t for t in (first, claims) if t is not None]
    return min(times) if times else None


def claim(row_id: int, now: dt.datetime) -> str | None:
    """Take the row for this worker until the lease runs out; None if another holds it or
    it was sent meanwhile."""
    token = secrets.token_hex(16)
    won = (
        WebhookDelivery.objects.filter(_unclaimed(now), pk=row_id, state=DeliveryState.PENDING)
        .exclude(
            Exists(
                WebhookDelivery.objects.filter(
                    subscription_id=OuterRef("subscription_id"),
                    subject=OuterRef("subject"),
                    id__lt=OuterRef("id"),
                    state=DeliveryState.PENDING,
                )
            )
        )
        .update(claimed_until=now + lease(), claim=token)
    )
    return token if won else None


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer like any other: logged as a failure, never followed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy from the environment: the receiver's address is the one the subscription names.
# Each connection checked on the address it reached (see apcert.webhooks.addresses).
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect(), GuardedHTTPHandler(), GuardedHTTPSHandler()
)


def signed_headers(
    subscription: WebhookSubscription, message_id: str, body: str, at: dt.datetime
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(subscription.secret).sign(message_id, at, body),
    }


def post(url: str, body: str, headers: dict[str, str]) -> Answer:
    """POST ``body`` and read the start of the answer; never raises."""
    started = time.monotonic()
    status: int | None = None
    excerpt = ""
    error = ""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")  # noqa: S310 - http(s) only, checked when subscribed
    try:
        with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
            excerpt = response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            excerpt = exc.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")
        except Exception:  # the answer's body may be cut off: the status is what counts
            excerpt = ""
    except TimeoutError:
        error = f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:  # refused, unreachable, TLS: a failed try like a 500
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            error = f"no answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s"
        else:
            error = f"{type(exc).__name__}: {reason}"
    duration = int((time.monotonic() - started) * 1000)
    return Answer(status, excerpt[:EXCERPT_CHARS], error[:300], duration)


def _send(row: WebhookDelivery, token: str) -> Answer:
    subscription = row.subscription
    started_at = timezone.now()
    headers = signed_headers(subscription, row.message_id, row.body, started_at)
    answer = post(subscription.url, row.body, headers)
    with transaction.atomic():
        if WebhookDelivery.objects.select_for_update().filter(pk=row.pk).first() is None:
            return answer  # the subscription was deleted meanwhile, with its log
        WebhookAttempt.objects.create(
            delivery=row,
            started_at=started_at,
            duration_ms=answer.duration_ms,
            status_code=answer.status_code,
            response_excerpt=answer.excerpt,
            error=answer.error,
            replay=row.delivered_at is not None,
        )
        mine = WebhookDelivery.objects.filter(pk=row.pk, claim=token, state=DeliveryState.PENDING)
        now = timezone.now()
        if answer.ok:
            mine.update(
                state=DeliveryState.DELIVERED,
                delivered_at=now,
                claimed_until=None,
                claim="",
                attempts=F("attempts") + 1,
            )
            WebhookSubscription.objects.filter(pk=subscription.pk).update(failures=0)
            return answer
        delays = retry_delays()
        tried = row.attempts + 1
        exhausted = tried > len(delays)
        wait = delays[min(tried, len(delays)) - 1]
        mine.update(attempts=tried, next_attempt_at=now + wait, claimed_until=None, claim="")
        WebhookSubscription.objects.filter(pk=subscription.pk).update(failures=F("failures") + 1)
        if exhausted:
            # Imported here: the services queue this module's task (services -> tasks ->
            # delivery), so this module cannot import them at its top.
            from apcert.webhooks.services import subscription_pause_for_failures

            subscription_pause_for_failures(subscription=subscription, delivery=row)
    return answer


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0


def webhooks_deliver_due(*, budget_seconds: float = 30.0, batch: int = 20) -> DeliveryReport:
    """Send what is due, until nothing is or the budget is spent (the worker runs other
    tasks too); return how many tries succeeded and failed."""
    report = DeliveryReport()
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        now = timezone.now()
        ids = list(due(now).values_list("id", flat=True)[:batch])
        if not ids:
            break
        progressed = False
        for row_id in ids:
            if time.monotonic() >= deadline:
                break
            token = claim(row_id, timezone.now())
            if token is None:
                continue
            progressed = True
            row = WebhookDelivery.objects.select_related("subscription").get(pk=row_id)
            if _send(row, token).ok:
                report.delivered += 1
            else:
                report.failed += 1
        if not progressed:
            break
    return report
