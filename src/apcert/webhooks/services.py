"""Webhook subscriptions: made, paused, resumed, deleted; deliveries replayed.

Each change is one transaction with its audit event (which never holds the secret). Who may
change a subscription: an administrator of the CB or organization it belongs to; the worker
pauses one whose deliveries kept failing for more than a day, and mails its owner.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from apcert.accounts.api_tokens import may_issue_for
from apcert.accounts.models import User
from apcert.audit.services import audit_record
from apcert.bodies.models import CertificationBody
from apcert.core.errors import NotFound, PermissionDenied, ValidationFailed
from apcert.organizations.models import Organization
from apcert.schemes.models import ProcessCategory
from apcert.webhooks.addresses import host_private, private_allowed
from apcert.webhooks.choices import (
    CB_EVENTS,
    PUBLIC_EVENTS,
    DeliveryState,
    SubscriptionOwner,
    SubscriptionStatus,
)
from apcert.webhooks.errors import (
    WEBHOOK_EMAIL_INVALID,
    WEBHOOK_EVENTS_INVALID,
    WEBHOOK_FILTER_INVALID,
    WEBHOOK_LINK_INVALID,
    WEBHOOK_NOT_ALLOWED,
    WEBHOOK_URL_INVALID,
    WEBHOOK_URL_PRIVATE,
)
from apcert.webhooks.lifecycle import SUBSCRIPTION
from apcert.webhooks.models import WebhookDelivery, WebhookSubscription
from apcert.webhooks.tasks import delivery_queue

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class Filters:
    cb: CertificationBody | None = None
    organization: Organization | None = None
    country: str = ""
    category: str = ""


def events_allowed(owner_kind: str) -> tuple[str, ...]:
    """The events a subscription of ``owner_kind`` may choose."""
    return CB_EVENTS if owner_kind == SubscriptionOwner.CB else PUBLIC_EVENTS


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ValidationFailed(
            "The receiver's address is an absolute http:// or https:// URL.",
            code=WEBHOOK_URL_INVALID,
            field="url",
        )
    if not private_allowed():
        private = host_private(parts.hostname)
        if private is not None:
            raise ValidationFailed(
                f"{parts.hostname} is at {private}, on a loopback, private or reserved "
                "network: webhooks are sent only to public addresses.",
                code=WEBHOOK_URL_PRIVATE,
                field="url",
            )
    return url


def _check_events(events: list[str], owner_kind: str) -> list[str]:
    allowed = events_allowed(owner_kind)
    chosen = [e for e in allowed if e in set(events)]
    if not events or len(chosen) != len(set(events)):
        raise ValidationFailed(
            "Choose at least one event, among those offered.",
            code=WEBHOOK_EVENTS_INVALID,
            field="event_types",
        )
    return chosen


def _check_filters(filters: Filters) -> Filters:
    country = filters.country.strip().upper()
    category = filters.category.strip()
    if country and (len(country) != 2 or not country.isalpha()):
        raise ValidationFailed(
            "A country is its two-letter ISO code.", code=WEBHOOK_FILTER_INVALID, field="country"
        )
    if category and not ProcessCategory.objects.filter(code=category).exists():
        raise ValidationFailed(
            f"No process category has the code {category}.",
            code=WEBHOOK_FILTER_INVALID,
            field="category",
        )
    return Filters(filters.cb, filters.organization, country, category)


@dataclass(frozen=True)
class NewSubscription:
    subscription: WebhookSubscription
    secret: str


def _audit_after(s: WebhookSubscription) -> dict[str, object]:
    return {
        "name": s.name,
        "url": s.url,
        "owner": s.owner_kind,
        "events": s.event_types,
        "filters": {
            "cb": s.filter_cb_id,
            "organization": s.filter_organization_id,
            "country": s.filter_country,
            "category": s.filter_category,
        },
        "status": s.status,
    }


def webhook_subscribe(
    *,
    actor: User,
    place: CertificationBody | Organization,
    name: str,
    url: str,
    event_types: list[str],
    filters: Filters = Filters(),
) -> NewSubscription:
    """Subscribe ``url`` for ``place`` (a CB or an organization ``actor`` administers).
    The secret is returned with it, to be shown this once."""
    name = " ".join((name or "").split())[:100] or "Webhook"
    is_cb = isinstance(place, CertificationBody)
    owner_kind = SubscriptionOwner.CB if is_cb else SubscriptionOwner.ORGANIZATION
    url = _check_url(url)
    events = _check_events(event_types, owner_kind)
    filters = _check_filters(filters)
    if not may_issue_for(actor, place):
        raise PermissionDenied(
            f"Only an administrator of {place} may subscribe webhooks for it.",
            code=WEBHOOK_NOT_ALLOWED,
        )
    secret = new_secret()
    with transaction.atomic():
        s = WebhookSubscription.objects.create(
            owner_kind=owner_kind,
            cb=place if isinstance(place, CertificationBody) else None,
            organization=place if isinstance(place, Organization) else None,
            created_by=actor,
            owner_email=actor.email or "",
            name=name,
            url=url,
            secret=secret,
            event_types=events,
            filter_cb=filters.cb,
            filter_organization=filters.organization,
            filter_country=filters.country,
            filter_category=filters.category,
            status=SubscriptionStatus.ACTIVE,
        )
        audit_record(actor=actor, action="webhook.subscribe", obj=s, after=_audit_after(s))
    return NewSubscription(s, secret)


def may_manage(actor: User, subscription: WebhookSubscription) -> bool:
    place = subscription.cb or subscription.organization
    return place is not None and may_issue_for(actor, place)


def _check_manage(actor: User, subscription: WebhookSubscription) -> None:
    if not may_manage(actor, subscription):
        raise PermissionDenied(
            "Only an administrator of the subscription's place may change it.",
            code=WEBHOOK_NOT_ALLOWED,
        )


def _lock(subscription: WebhookSubscription) -> WebhookSubscription:
    return WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)


def _transition(
    s: WebhookSubscription,
    action: str,
    *,
    actor: User | None,
    reason: str = "",
    actor_label: str | None = None,
) -> WebhookSubscription:
    before = s.status
    s.status = SUBSCRIPTION.next_state(s.status, action)
    s.status_reason = reason
    fields = ["status", "status_reason"]
    if action in ("resume", "confirm"):
        s.failures = 0
        fields.append("failures")
    s.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"webhook.{action}",
        obj=s,
        before={"status": before},
        after={"status": s.status},
        reason=reason,
        actor_label=actor_label,
    )
    return s


def webhook_pause(*, actor: User, subscription: WebhookSubscription) -> WebhookSubscription:
    """Stop sending; what happens meanwhile is kept and sent on resuming."""
    _check_manage(actor, subscription)
    with transaction.atomic():
        return _transition(_lock(subscription), "pause", actor=actor, reason="paused by its owner")


def webhook_resume(*, actor: User, subscription: WebhookSubscription) -> WebhookSubscription:
    """Send again: every row still to be sent is due now, its retry delays counted afresh."""
    _check_manage(actor, subscription)
    with transaction.atomic():
        s = _transition(_lock(subscription), "resume", actor=actor)
        WebhookDelivery.objects.filter(subscription=s, state=DeliveryState.PENDING).update(
            attempts=0, next_attempt_at=timezone.now()
        )
        transaction.on_commit(delivery_queue)
    return s


def webhook_delete(*, actor: User, subscription: WebhookSubscription) -> None:
    """Delete the subscription with its outbox and log; nothing more is sent to it."""
    _check_manage(actor, subscription)
    with transaction.atomic():
        s = _lock(subscription)
        audit_record(
            actor=actor, action="webhook.delete", obj=s, before=_audit_after(s), after=None
        )
        s.delete()


def webhook_replay(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivered message again, as it was (same id, same body, a new signature)."""
    _check_manage(actor, delivery.subscription)
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        row.state = DeliveryState.PENDING
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.save(update_fields=["state", "attempts", "next_attempt_at"])
        audit_record(
            actor=actor,
            action="webhook.replay",
            obj=row.subscription,
            after={"message_id": row.message_id, "event": row.event_type},
        )
        transaction.on_commit(delivery_queue)
    return row


def subscription_pause_for_failures(
    *, subscription: WebhookSubscription, delivery: WebhookDelivery
) -> None:
    """Pause a subscription whose delivery failed at every try for more than a day, and mail
    its owner after commit. Called by the worker, inside its transaction."""
    s = _lock(subscription)
    if s.status != SubscriptionStatus.ACTIVE:
        return
    reason = (
        f"every try to send {delivery.message_id} ({delivery.event_type}) failed, the first "
        f"at {delivery.created_at:%Y-%m-%d %H:%M} UTC"
    )
    _transition(s, "pause", actor=None, reason=reason)
    if s.owner_email:
        subject = f"apcert webhook paused: {s.name}"
        where = (
            "with the link mailed to you when you subscribed"
            if s.owner_kind == SubscriptionOwner.PUBLIC
            else "in apcert's back office (Webhooks)"
        )
        body = (
            f"Your webhook subscription {s.name} ({s.url}) has been paused: {reason}.\n\n"
            "Nothing is lost: the events since then are kept and are sent, in order, when "
            f"you resume the subscription {where}, once the receiver answers again.\n"
        )
        to = [s.owner_email]

        def mail() -> None:
            try:
                send_mail(subject, body, None, to)
            except Exception as exc:  # the pause stands; the log says it was not told
                logger.warning("could not mail the pause of webhook %s: %s", s.pk, exc)

        transaction.on_commit(mail)


# --- subscriptions without an account (buyers) ------------------------------------------------

#: How the audit trail names a person who acts through a public subscription's link.
PUBLIC_SUBSCRIBER = "public subscriber (by the link mailed to the subscription's address)"


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_subscribe_public(
    *,
    email: str,
    name: str,
    url: str,
    event_types: list[str],
    filters: Filters = Filters(),
    link_base: str,
) -> WebhookSubscription:
    """Subscribe ``url`` to public certificate events without an account. The subscription
    waits for its owner to open the link mailed to ``email`` and confirm (the link is mailed
    after commit; only its SHA-256 is kept). ``link_base`` is the link without its token."""
    name = " ".join((name or "").split())[:100] or "Webhook"
    email = (email or "").strip()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(
            "The address the confirmation link is mailed to.",
            code=WEBHOOK_EMAIL_INVALID,
            field="email",
        ) from None
    url = _check_url(url)
    events = _check_events(event_types, SubscriptionOwner.PUBLIC)
    filters = _check_filters(filters)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        s = WebhookSubscription.objects.create(
            owner_kind=SubscriptionOwner.PUBLIC,
            owner_email=email,
            name=name,
            url=url,
            secret=new_secret(),
            event_types=events,
            filter_cb=filters.cb,
            filter_organization=filters.organization,
            filter_country=filters.country,
            filter_category=filters.category,
            status=SubscriptionStatus.PENDING,
            confirm_hash=link_hash(token),
        )
        audit_record(
            actor=None,
            action="webhook.subscribe",
            obj=s,
            after=_audit_after(s),
            actor_label=PUBLIC_SUBSCRIBER,
        )
        link = f"{link_base}{token}"
        body = (
            f"Someone (you, we hope) asked apcert to send the public certificate events "
            f"{', '.join(events)} to {url}.\n\n"
            f"To confirm, open this link and press Confirm:\n{link}\n\n"
            "The same link shows the subscription's signing secret once confirmed, and lets you "
            "pause, resume or delete it: keep it. If you did not ask for this, ignore this mail; "
            "nothing is sent until the subscription is confirmed.\n"
        )

        def mail() -> None:
            try:
                send_mail(f"Confirm your apcert webhook: {name}", body, None, [email])
            except Exception as exc:  # the subscription waits; the person may ask again
                logger.warning("could not mail the confirmation of webhook %s: %s", s.pk, exc)

        transaction.on_commit(mail)
    return s


def webhook_by_link(token: str) -> WebhookSubscription:
    """The public subscription a mailed link names."""
    s = (
        WebhookSubscription.objects.filter(
            owner_kind=SubscriptionOwner.PUBLIC, confirm_hash=link_hash(token or "")
        ).first()
        if token
        else None
    )
    if s is None:
        raise NotFound(
            "This link names no webhook subscription: it may have been deleted.",
            code=WEBHOOK_LINK_INVALID,
        )
    return s


def webhook_link_act(*, token: str, action: str) -> WebhookSubscription | None:
    """Confirm, pause, resume or delete the public subscription the link names (None once
    deleted)."""
    with transaction.atomic():
        s = _lock(webhook_by_link(token))
        if action == "delete":
            audit_record(
                actor=None,
                action="webhook.delete",
                obj=s,
                before=_audit_after(s),
                after=None,
                actor_label=PUBLIC_SUBSCRIBER,
            )
            s.delete()
            return None
        s = _transition(s, action, actor=None, actor_label=PUBLIC_SUBSCRIBER)
        if action == "resume":
            WebhookDelivery.objects.filter(subscription=s, state=DeliveryState.PENDING).update(
                attempts=0, next_attempt_at=timezone.now()
            )
            transaction.on_commit(delivery_queue)
        return s


#: A public subscription not confirmed within this many days is removed (its link with it).
UNCONFIRMED_DAYS = 7


def webhooks_unconfirmed_remove() -> int:
    """Remove the public subscriptions never confirmed within :data:`UNCONFIRMED_DAYS`
    (the worker's upkeep); return how many."""
    cutoff = timezone.now() - dt.timedelta(days=UNCONFIRMED_DAYS)
    removed = 0
    stale = WebhookSubscription.objects.filter(
        owner_kind=SubscriptionOwner.PUBLIC,
        status=SubscriptionStatus.PENDING,
        created_at__lt=cutoff,
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic():
            s = WebhookSubscription.objects.select_for_update().filter(pk=pk).first()
            if s is None or s.status != SubscriptionStatus.PENDING:
                continue
            audit_record(
                actor=None,
                action="webhook.delete",
                obj=s,
                before=_audit_after(s),
                after=None,
                reason=f"not confirmed within {UNCONFIRMED_DAYS} days",
            )
            s.delete()
            removed += 1
    return removed


def webhooks_unconfirmed_upkeep() -> None:
    """The worker's upkeep: :func:`webhooks_unconfirmed_remove`."""
    webhooks_unconfirmed_remove()
