"""Form fields every section shares.

Dates are typed, not picked from the browser's date control, whose display follows the
browser's locale (7/12/2026 is July in one country and December in another). A date field
takes the ISO form 2026-12-07 or the form every page shows, 7 December 2026 (or 7 Dec 2026),
and shows its value back as 2026-12-07.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from apcert.core.dates import TYPED_DATE_FORMATS, format_date

INPUT_FORMATS = list(TYPED_DATE_FORMATS)
DATE_HINT = "As 2026-12-07 or 7 December 2026."


class DateInput(forms.DateInput):
    """A text box for a date, its expected form said in its placeholder."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={
                "placeholder": "YYYY-MM-DD",
                "autocomplete": "off",
                "spellcheck": "false",
                "size": "18",
                **(attrs or {}),
            },
            format="%Y-%m-%d",
        )


class DateField(forms.DateField):
    """A date typed as 2026-12-07 or 7 December 2026, whatever the browser's locale."""

    widget = DateInput
    default_error_messages = {"invalid": "Enter the date as 2026-12-07 or 7 December 2026."}

    def __init__(self, *, help_text: str = DATE_HINT, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", INPUT_FORMATS)
        super().__init__(help_text=help_text, **kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            value = " ".join(value.split())
        return super().to_python(value)


def date_words(value: dt.date) -> str:
    """A date in the words every page uses (for messages and errors built in views)."""
    return format_date(value)
