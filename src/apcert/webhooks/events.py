"""From an audit event to the webhook deliveries it causes, in the transaction of the change.

The audit trail hands every event it records to :func:`event_recorded` (registered in
``WebhooksConfig.ready``). For the actions in :data:`EVENT_TYPES` it reads the object once,
builds the event's payload, finds the active subscriptions it matches in one query, and writes
one :class:`WebhookDelivery` per subscription (a paused one too: it is sent on
resuming); any other action returns at once. What it
writes commits or rolls back with the change. After commit the delivery task is queued: the
request that made the change never waits for a receiver.

Who receives what:

- a certification body's subscription: the events of its own certificates, applications and
  assessments (a transfer: both the CB that gives the certificate up and the one that takes
  it over);
- an organization's subscription: the events of its own certificates;
- a public subscription: the certificate events, whose payload holds only what the public
  register shows.

A certificate granted under the Secretariat's review is public, and announced, when the
review approves it (``certificate.publish``), not at the decision.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apcert.applications.models import Application
from apcert.assessments.models import Assessment
from apcert.audit.models import AuditEvent
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.webhooks.choices import EventType, SubscriptionOwner, SubscriptionStatus
from apcert.webhooks.models import WebhookDelivery, WebhookSubscription
from apcert.webhooks.tasks import delivery_queue

_E = EventType

#: The audit actions that are webhook events, and the event each one is.
EVENT_TYPES: dict[str, str] = {
    "certificate.grant": _E.CERTIFICATE_GRANTED,
    "certificate.publish": _E.CERTIFICATE_GRANTED,
    **{
        f"certificate.{action}": _E.CERTIFICATE_REISSUED
        for action in (
            "renew",
            "extend_scope",
            "site_add",
            "reduce_scope",
            "site_remove",
            "holder_renamed",
            "site_renamed",
            "site_moved",
            "standard_update",
        )
    },
    "certificate.suspend": _E.CERTIFICATE_SUSPENDED,
    "certificate.restore": _E.CERTIFICATE_RESTORED,
    "certificate.withdraw": _E.CERTIFICATE_WITHDRAWN,
    "certificate.cancel": _E.CERTIFICATE_CANCELLED,
    "certificate.expire": _E.CERTIFICATE_EXPIRED,
    "certificate.transfer": _E.CERTIFICATE_TRANSFERRED,
    "application.submit": _E.APPLICATION_SUBMITTED,
    "application.accept": _E.APPLICATION_ACCEPTED,
    "application.reject": _E.APPLICATION_REJECTED,
    "application.withdraw": _E.APPLICATION_WITHDRAWN,
    "assessment.plan": _E.ASSESSMENT_PLANNED,
    "assessment.reschedule": _E.ASSESSMENT_RESCHEDULED,
    "assessment.start": _E.ASSESSMENT_STARTED,
    "assessment.issue_report": _E.ASSESSMENT_REPORT_ISSUED,
    "assessment.correct_report": _E.ASSESSMENT_REPORT_CORRECTED,
    "assessment.close": _E.ASSESSMENT_CLOSED,
    "assessment.cancel": _E.ASSESSMENT_CANCELLED,
}


#: A paused subscription keeps receiving events into its outbox: resuming it sends them.
RECEIVING = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED)


@dataclass
class Occurrence:
    """An event as the subscriptions' filters see it, and the data it sends."""

    event_type: str
    subject: str
    data: dict[str, Any]
    #: The CBs, holder and country and categories the filters are matched against.
    cb_ids: list[int]
    organization_id: int
    country: str
    categories: list[str] = field(default_factory=list)
    public: bool = True


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _register_url(number: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/certificates/{quote(number)}"


def _certificate(event: AuditEvent, event_type: str) -> Occurrence | None:
    cert = Certificate.objects.select_related(
        "cb", "organization", "scheme", "transferred_from__cb"
    ).get(pk=int(event.object_id))
    if cert.status == CertificateStatus.DRAFT:
        return None  # never public; announced when published
    issue = cert.issues.filter(issue_number=cert.current_issue_number).first()
    scope_lines = issue.scope_lines if issue is not None else []
    holder = issue.holder if issue is not None else {}
    categories = sorted({line["category"] for line in scope_lines})
    after = event.after if isinstance(event.after, dict) else {}
    data: dict[str, Any] = {
        "certificate": cert.number,
        "issue": cert.current_issue_number,
        "status": cert.status,
        "status_since": _iso(cert.status_since),
        "expires_on": _iso(cert.expires_on),
        "scheme": cert.scheme.code,
        "cb": {"code": cert.cb.code, "name": cert.cb.name},
        "holder": {
            "name": holder.get("name", cert.organization.legal_name),
            "country": holder.get("country", cert.organization.country),
        },
        "categories": categories,
        "url": _register_url(cert.number),
    }
    if after.get("reason_category"):
        data["reason_category"] = after["reason_category"]
    if issue is not None and event_type == _E.CERTIFICATE_REISSUED:
        data["issue_reason"] = issue.reason
        data["change_summary"] = issue.change_summary
    cb_ids = [cert.cb_id]
    if event_type == _E.CERTIFICATE_TRANSFERRED and cert.transferred_from is not None:
        old = cert.transferred_from
        data["transferred_from"] = {"certificate": old.number, "cb": old.cb.code}
        cb_ids.append(old.cb_id)
    return Occurrence(
        event_type=event_type,
        subject=f"certificate:{cert.number}",
        data=data,
        cb_ids=cb_ids,
        organization_id=cert.organization_id,
        country=str(data["holder"]["country"]),
        categories=categories,
    )


def _application(event: AuditEvent, event_type: str) -> Occurrence:
    app = Application.objects.select_related("organization", "cb", "scheme").get(
        pk=int(event.object_id)
    )
    categories = sorted(set(app.scope_lines.values_list("category__code", flat=True)))
    return Occurrence(
        event_type=event_type,
        subject=f"application:{app.pk}",
        data={
            "application": app.pk,
            "status": app.status,
            "scheme": app.scheme.code,
            "cb": {"code": app.cb.code, "name": app.cb.name},
            "organization": {
                "name": app.organization.legal_name,
                "country": app.organization.country,
            },
            "categories": categories,
        },
        cb_ids=[app.cb_id],
        organization_id=app.organization_id,
        country=app.organization.country,
        categories=categories,
        public=False,
    )


def _assessment(event: AuditEvent, event_type: str) -> Occurrence:
    a = Assessment.objects.select_related(
        "cb", "application__organization", "certificate__organization"
    ).get(pk=int(event.object_id))
    subject = a.certificate or a.application
    assert subject is not None  # an assessment is of an application or a certificate
    org = subject.organization
    return Occurrence(
        event_type=event_type,
        subject=f"assessment:{a.pk}",
        data={
            "assessment": a.pk,
            "kind": a.kind,
            "status": a.status,
            "start_date": _iso(a.start_date),
            "end_date": _iso(a.end_date),
            "report_issued_on": _iso(a.report_issued_on),
            "application": a.application_id,
            "certificate": a.certificate.number if a.certificate is not None else None,
            "cb": {"code": a.cb.code, "name": a.cb.name},
            "organization": {"name": org.legal_name, "country": org.country},
        },
        cb_ids=[a.cb_id],
        organization_id=org.pk,
        country=org.country,
        public=False,
    )


def occurrence_of(event: AuditEvent) -> Occurrence | None:
    """The webhook event an audit event is, or None."""
    event_type = EVENT_TYPES.get(event.action)
    if event_type is None:
        return None
    kind = event_type.split(".", 1)[0]
    if kind == "certificate":
        return _certificate(event, event_type)
    if kind == "application":
        return _application(event, event_type)
    return _assessment(event, event_type)


def subscriptions_matching(occ: Occurrence) -> list[WebhookSubscription]:
    """The subscriptions (active or paused) that receive ``occ``: one query, the event types checked
    on the rows it returns."""
    may_see = Q(owner_kind=SubscriptionOwner.CB, cb_id__in=occ.cb_ids)
    if occ.public:
        may_see |= Q(
            owner_kind=SubscriptionOwner.ORGANIZATION, organization_id=occ.organization_id
        ) | Q(owner_kind=SubscriptionOwner.PUBLIC)
    rows = WebhookSubscription.objects.filter(
        may_see,
        Q(filter_cb__isnull=True) | Q(filter_cb_id__in=occ.cb_ids),
        Q(filter_organization__isnull=True) | Q(filter_organization_id=occ.organization_id),
        Q(filter_country="") | Q(filter_country=occ.country),
        Q(filter_category="") | Q(filter_category__in=occ.categories),
        status__in=RECEIVING,
    ).order_by("id")
    return [s for s in rows if occ.event_type in s.event_types]


def payload(event: AuditEvent, occ: Occurrence) -> str:
    """The body sent: stable JSON (sorted keys, no spaces), the same on every try."""
    return json.dumps(
        {
            "type": occ.event_type,
            "timestamp": event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": occ.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def deliveries_write(event: AuditEvent) -> list[WebhookDelivery]:
    """Write the outbox rows of ``event`` (in the caller's transaction)."""
    if event.action not in EVENT_TYPES:
        return []
    if not WebhookSubscription.objects.filter(status__in=RECEIVING).exists():
        return []
    occ = occurrence_of(event)
    if occ is None:
        return []
    subscriptions = subscriptions_matching(occ)
    if not subscriptions:
        return []
    body = payload(event, occ)
    now = timezone.now()
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription=s,
                message_id=new_message_id(),
                event_type=occ.event_type,
                audit_seq=event.seq,
                subject=occ.subject,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
            for s in subscriptions
        ]
    )
    transaction.on_commit(delivery_queue)
    return rows


def event_recorded(event: AuditEvent) -> None:
    """The audit listener."""
    deliveries_write(event)
