"""Template filters of the public register pages: statuses and reasons in plain words."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apcert.certificates.choices import IssueReason, StatusReason
from apcert.core.dates import long_date

register = template.Library()

#: Each public status as a buyer reads it: a word, and what it means for them.
STATUS_WORDS: dict[str, tuple[str, str]] = {
    "current": ("Current", "The certificate is valid."),
    "suspended": (
        "Suspended",
        "The certificate is not valid while it is suspended; it may be restored.",
    ),
    "withdrawn": (
        "Withdrawn",
        "The certification body has withdrawn the certificate; it is no longer valid.",
    ),
    "cancelled": (
        "Cancelled",
        "The certificate was cancelled at the holder's request; it is no longer valid.",
    ),
    "expired": ("Expired", "The certificate's validity has ended; it is no longer valid."),
}

_STATUS_REASONS = {choice.value: str(choice.label) for choice in StatusReason}
_ISSUE_REASONS = {choice.value: str(choice.label) for choice in IssueReason}


@register.filter
def status_word(status: str) -> str:
    """``suspended`` -> ``Suspended``."""
    return STATUS_WORDS.get(status, (status.capitalize(), ""))[0]


@register.filter
def status_meaning(status: str) -> str:
    """What a status means for someone relying on the certificate."""
    return STATUS_WORDS.get(status, ("", ""))[1]


@register.filter
def reason_label(code: str | None) -> str:
    """The public label of a status-change reason category: ``complaint`` -> ``complaint``,
    ``missed_surveillance`` -> ``surveillance not carried out in time``."""
    if not code:
        return ""
    return _STATUS_REASONS.get(code, code.replace("_", " "))


@register.filter
def issue_reason_label(code: str) -> str:
    """Why an issue was made: ``scope_extension`` -> ``scope extended``."""
    return _ISSUE_REASONS.get(code, code.replace("_", " "))


@register.filter
def day(value: dt.date | None) -> SafeString | str:
    """A date as people read it (in English whatever the server's locale), machine-readable
    too: ``<time datetime="2026-03-24">24 March
    2026</time>``."""
    if value is None:
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), plain_day(value))


def plain_day(value: dt.date) -> str:
    """``24 March 2026``."""
    return long_date(value)
