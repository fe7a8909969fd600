"""Template filters for dates, one format on every page (a built-in: no ``{% load %}``).

``{{ value|day }}`` gives ``<time datetime="2026-12-07">7 December 2026</time>``, and
``{{ value|moment }}`` gives ``<time datetime="2026-12-07T14:05:00+00:00">7 December 2026,
14:05 UTC</time>``; both give "" for None.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apcert.core.dates import format_date, format_datetime

register = template.Library()


@register.filter
def day(value: dt.date | dt.datetime | None) -> SafeString | str:
    """A date, machine-readable too."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = (value.astimezone(dt.UTC) if value.tzinfo else value).date()
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), format_date(value))


@register.filter
def moment(value: dt.datetime | None) -> SafeString | str:
    """A date and time in UTC, machine-readable too."""
    if value is None or value == "":
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), format_datetime(value))
