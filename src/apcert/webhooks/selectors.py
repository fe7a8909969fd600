"""What a person may see of the webhooks."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apcert.accounts.models import User
from apcert.bodies.choices import CBRole
from apcert.organizations.choices import OrganizationRole
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


def subscriptions_visible_to(user: User) -> QuerySet[WebhookSubscription]:
    """The subscriptions of the CBs and organizations ``user`` administers."""
    if not user.is_active:
        return WebhookSubscription.objects.none()
    return (
        WebhookSubscription.objects.filter(
            Q(
                cb__staff__user=user,
                cb__staff__role=CBRole.ADMIN,
                cb__staff__active=True,
            )
            | Q(
                organization__members__user=user,
                organization__members__role=OrganizationRole.ADMIN,
            )
        )
        .distinct()
        .select_related("cb", "organization")
    )


def deliveries_of(subscription: WebhookSubscription, *, limit: int = 100) -> list[WebhookDelivery]:
    """The latest deliveries of a subscription, newest first, each with its tries."""
    rows = list(subscription.deliveries.order_by("-id")[:limit])
    tries: dict[int, list[WebhookAttempt]] = {}
    for attempt in WebhookAttempt.objects.filter(delivery__in=[r.pk for r in rows]).order_by(
        "-started_at", "-id"
    ):
        tries.setdefault(attempt.delivery_id, []).append(attempt)
    for row in rows:
        row.log = tries.get(row.pk, [])  # type: ignore[attr-defined]
    return rows
