"""Reading an import file, CSV or XLSX, into rows of text: ``(row number, {column: text})``
with the row numbers a spreadsheet shows (the header is row 1). The header is read first
(:class:`Sheet`); the rows are read one at a time, so that a file of a hundred thousand
rows is never held twice. XLSX is read with openpyxl in read-only mode."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FORMATS = ("csv", "xlsx")


class FileUnreadable(ValueError):
    """The file cannot be read in the format given; its message says why."""


def guess_format(file_name: str, data: bytes) -> str:
    """``xlsx`` for a workbook (a zip archive), else ``csv``."""
    if file_name.lower().endswith(".xlsx") or data[:4] == b"PK\x03\x04":
        return "xlsx"
    return "csv"


@dataclass
class Sheet:
    header: list[str]
    rows: Iterator[tuple[int, dict[str, str]]]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows(
    header: list[str], lines: Iterator[list[Any]], first: int
) -> Iterator[tuple[int, dict[str, str]]]:
    for number, values in enumerate(lines, start=first):
        texts = [_cell_text(v) for v in values]
        if not any(texts):
            continue  # a blank line is no row
        texts += [""] * (len(header) - len(texts))
        yield number, {name: texts[i] for i, name in enumerate(header) if name}


def _header(values: list[Any]) -> list[str]:
    return [_cell_text(v).strip().lower() for v in values]


def read_sheet(data: bytes, file_format: str) -> Sheet:
    """The file's header and its rows; :class:`FileUnreadable` when it is neither."""
    if file_format == "xlsx":
        return _read_xlsx(data)
    return _read_csv(data)


def _read_csv(data: bytes) -> Sheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileUnreadable(
            f"the file is not UTF-8 text (byte {exc.start}); save the CSV as UTF-8"
        ) from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = _header(next(reader))
    except StopIteration:
        return Sheet([], iter(()))
    except csv.Error as exc:
        raise FileUnreadable(f"the CSV cannot be read: {exc}") from None

    def lines() -> Iterator[list[Any]]:
        try:
            yield from reader
        except csv.Error as exc:
            raise FileUnreadable(
                f"the CSV cannot be read at line {reader.line_num}: {exc}"
            ) from None

    return Sheet(header, _rows(header, lines(), 2))


def _read_xlsx(data: bytes) -> Sheet:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileUnreadable(f"the workbook cannot be read: {exc}") from None
    sheet = book.worksheets[0]
    lines = sheet.iter_rows(values_only=True)
    try:
        header = _header(list(next(lines)))
    except StopIteration:
        book.close()
        return Sheet([], iter(()))

    def rest() -> Iterator[list[Any]]:
        try:
            for values in lines:
                yield list(values)
        finally:
            book.close()

    return Sheet(header, _rows(header, rest(), 2))
