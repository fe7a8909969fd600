"""Dates are shown one way and typed one way, whatever the browser's or the server's locale."""

from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.template import Context, Template

from apcert.core.dates import format_date, format_datetime
from apcert.web.fields import DateField


class OneDate(forms.Form):
    day = DateField(label="Day")


@pytest.mark.parametrize(
    "typed",
    ["2026-12-07", "7 December 2026", "07 December 2026", "7 Dec 2026", " 7  december 2026 "],
)
def test_a_date_is_typed_in_iso_or_in_words(typed: str) -> None:
    form = OneDate({"day": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["day"] == dt.date(2026, 12, 7)


@pytest.mark.parametrize("typed", ["12/7/2026", "7/12/2026", "2026-13-01", "tomorrow"])
def test_an_ambiguous_or_wrong_date_is_refused_with_the_forms_it_takes(typed: str) -> None:
    form = OneDate({"day": typed})
    assert not form.is_valid()
    assert form.errors["day"] == ["Enter the date as 2026-12-07 or 7 December 2026."]


def test_the_date_box_is_text_not_the_browsers_locale_picker() -> None:
    html = str(OneDate(initial={"day": dt.date(2026, 12, 7)})["day"])
    assert 'type="text"' in html and 'value="2026-12-07"' in html
    assert 'placeholder="YYYY-MM-DD"' in html and 'type="date"' not in html


def test_one_format_for_dates_and_one_for_times() -> None:
    assert format_date(dt.date(2026, 12, 7)) == "7 December 2026"
    moment = dt.datetime(2026, 12, 7, 15, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_datetime(moment) == "7 December 2026, 14:05 UTC"
    html = Template("{{ d|day }} / {{ t|moment }} / {{ none|day }}").render(
        Context({"d": dt.date(2026, 12, 7), "t": moment, "none": None})
    )
    assert html == (
        '<time datetime="2026-12-07">7 December 2026</time> / '
        '<time datetime="2026-12-07T15:05:00+01:00">7 December 2026, 14:05 UTC</time> / '
    )
