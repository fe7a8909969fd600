"""Where a message's link goes: the one place that turns (object type, id) into a page.

The same record has a page in the certification body's section and one in the
organization's: the reader's roles choose. Staff of the record's CB get the CB's page, a
user of the record's organization gets the organization's; anyone else, or an object of a
type the screens do not know, gets no link.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from apcert.accounts.models import User
from apcert.notifications.choices import MessageTarget
from apcert.notifications.models import Message
from apcert.notifications.selectors import (
    Reader,
    TargetRecord,
    message_reader,
    message_target,
    message_target_records,
)


def _url(kind: str, pk: int, record: TargetRecord, reader: Reader) -> str | None:
    cb_side = record.cb_id is not None and record.cb_id in reader.cb_ids
    org_id = record.organization_id
    org_side = org_id is not None and org_id in reader.organization_ids
    if kind == MessageTarget.APPLICATION:
        if cb_side:
            return reverse("web:cb:application", args=[pk])
        if org_side:
            return reverse("web:org:application", args=[org_id, pk])
    elif kind == MessageTarget.ASSESSMENT:
        if cb_side:
            return reverse("web:cb:assessment", args=[pk])
        if org_side:
            return reverse("web:org:assessment-reports", args=[org_id])
    elif kind == MessageTarget.FINDING:
        if org_side:
            return reverse("web:org:finding", args=[org_id, pk])
        if cb_side and record.assessment_id is not None:
            return reverse("web:cb:assessment", args=[record.assessment_id]) + f"#finding-{pk}"
    elif kind == MessageTarget.CERTIFICATE:
        if cb_side:
            return reverse("web:cb:certificate", args=[pk])
        if org_side:
            return reverse("web:org:certificate", args=[org_id, pk])
        if reader.secretariat:
            return reverse("web:sec:certificates")
    return None


def message_links(user: User, messages: Iterable[Message]) -> dict[int, str | None]:
    """The link of each message (by id) for ``user``, None where there is none. A few
    queries in all, however many messages."""
    listed = list(messages)
    if not listed:
        return {}
    reader = message_reader(user)
    records = message_target_records(message_target(m) for m in listed)
    links: dict[int, str | None] = {}
    for m in listed:
        kind, pk = message_target(m)
        record = records.get((kind, pk))
        links[m.pk] = _url(kind, pk, record, reader) if record is not None else None
    return links


def message_link(user: User, message: Message) -> str | None:
    """The link of one message for ``user``, or None."""
    return message_links(user, [message])[message.pk]
