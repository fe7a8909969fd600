"""Dates in templates as every document and page prints them (see :mod:`apcert.core.dates`)."""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apcert.core.dates import format_date, format_datetime

register = template.Library()


@register.filter
def long_date(value: dt.date | None) -> SafeString | str:
    """``<time datetime="2026-12-07">7 December 2026</time>``; nothing for no date."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return long_datetime(value)
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), format_date(value))


@register.filter
def long_datetime(value: dt.datetime | None) -> SafeString | str:
    """``<time datetime="2026-12-07T14:05:00+00:00">7 December 2026, 14:05 UTC</time>``."""
    if value is None:
        return ""
    moment = value.astimezone(dt.UTC) if value.tzinfo is not None else value
    return format_html(
        '<time datetime="{}">{}</time>',
        moment.replace(microsecond=0).isoformat(),
        format_datetime(moment),
    )
