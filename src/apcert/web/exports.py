"""Exports of a back-office list: what the list shows, as CSV or XLSX.

An export holds every row of the list as the request filters, searches and sorts it (the
same queryset, from the same selector, so it holds only what the viewer may see), up to
``EXPORT_CAP`` rows; past the cap, its last row says so, as the page does. The rows are read
in chunks of ``CHUNK`` with LIMIT and OFFSET on the list's order (which ends on the primary
key), so an export makes one query a chunk, whatever its related fields: the list's selector
joins what its columns read. ``prepare`` is called on each chunk before its cells are read,
to fetch in one batch what the rows need (e.g. the status today of certificates).

CSV is streamed as it is read. A spreadsheet would run a cell that begins with ``=``, ``+``,
``-`` or ``@`` (or a tab or carriage return before one) as a formula, so such a cell is
written with a leading single quote: a holder named ``=HYPERLINK(...)`` reads as that text.
XLSX is written with openpyxl's write-only workbook into a temporary file, row by row; a
text cell there is always a string, never a formula, and keeps its text as it is; one that
begins like a formula also carries the cell's "quote prefix" mark, so that a spreadsheet
keeps it text when someone edits it.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from apcert.core.spreadsheet import neutralised, reads_as_formula
from apcert.web.lists import EXPORT_CAP, Column, ListPage

#: Rows read per query.
CHUNK = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Prepare = Callable[[list[Any]], object]


def capped_note(cap: int) -> str:
    return (
        f"Only the first {cap:,} rows are here: narrow the search or the filters to export "
        "the rest."
    )


def _chunks(
    queryset: QuerySet[Any], cap: int, prepare: Prepare | None
) -> Iterator[tuple[list[Any], bool]]:
    """The rows up to ``cap``, chunk by chunk, and whether rows beyond the cap were left."""
    start = 0
    while start < cap:
        rows = list(queryset[start : min(start + CHUNK, cap + 1)])
        more = start + len(rows) > cap
        rows = rows[: cap - start]
        if prepare is not None and rows:
            prepare(rows)
        yield rows, more
        if more or len(rows) < CHUNK:
            return
        start += CHUNK
    # The cap fell on a chunk's end: one row more says whether it was reached.
    yield [], queryset[cap : cap + 1].exists()


def _rows(
    queryset: QuerySet[Any], columns: Sequence[Column], cap: int, prepare: Prepare | None
) -> Iterator[list[Any] | None]:
    """Each row's cells; None last when the cap left rows out."""
    for rows, more in _chunks(queryset, cap, prepare):
        for row in rows:
            yield [column.value(row) for column in columns]
        if more:
            yield None
            return


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return neutralised(str(value))


class _Echo:
    """A file-like object whose ``write`` hands back what it was given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(
    queryset: QuerySet[Any], columns: Sequence[Column], cap: int, prepare: Prepare | None
) -> Iterator[str]:
    writer = csv.writer(_Echo())
    # A byte order mark, so that a spreadsheet opening the file reads it as UTF-8.
    yield "\ufeff" + writer.writerow([neutralised(c.header) for c in columns])
    for cells in _rows(queryset, columns, cap, prepare):
        if cells is None:
            yield writer.writerow([capped_note(cap)])
        else:
            yield writer.writerow([_csv_text(v) for v in cells])


def _filename(name: str, extension: str) -> str:
    return f"{name}-{timezone.localdate().isoformat()}.{extension}"


def csv_response(
    queryset: QuerySet[Any],
    columns: Sequence[Column],
    *,
    name: str,
    cap: int | None = None,
    prepare: Prepare | None = None,
) -> StreamingHttpResponse:
    """The rows of ``queryset`` as a CSV download, streamed as they are read (at most
    ``cap`` rows, ``EXPORT_CAP`` unless given)."""
    cap = EXPORT_CAP if cap is None else cap
    response = StreamingHttpResponse(
        _csv_lines(queryset, columns, cap, prepare), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(name, "csv")}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # Spreadsheets hold no time zone: the moment in UTC, said in the heading.
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, bool):
        return WriteOnlyCell(sheet, value="yes" if value else "no")
    if value is None or isinstance(value, int | float):
        return WriteOnlyCell(sheet, value=value)
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    cell = WriteOnlyCell(sheet, value=text)
    # openpyxl takes a text that begins with "=" for a formula; it is always text here,
    # and one that begins like a formula is marked so that editing it keeps it text.
    cell.data_type = "s"
    if reads_as_formula(text):
        cell.quotePrefix = True
    return cell


def _xlsx_rows(
    sheet: Any, columns: Sequence[Column], cells_rows: Iterable[list[Any] | None], cap: int
) -> None:
    bold = Font(bold=True)
    heading = []
    for column in columns:
        cell = _xlsx_cell(sheet, column.header)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for cells in cells_rows:
        if cells is None:
            note = _xlsx_cell(sheet, capped_note(cap))
            note.font = bold
            sheet.append([note])
        else:
            sheet.append([_xlsx_cell(sheet, v) for v in cells])


def xlsx_response(
    queryset: QuerySet[Any],
    columns: Sequence[Column],
    *,
    name: str,
    title: str,
    cap: int | None = None,
    prepare: Prepare | None = None,
) -> FileResponse:
    """The rows of ``queryset`` as an XLSX download: one sheet named ``title``, a bold
    heading row, dates as dates (at most ``cap`` rows, ``EXPORT_CAP`` unless given)."""
    cap = EXPORT_CAP if cap is None else cap
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=ILLEGAL_CHARACTERS_RE.sub("", title)[:31] or "Export")
    for index, column in enumerate(columns):
        sheet.column_dimensions[get_column_letter(index + 1)].width = max(
            12, min(len(column.header) + 4, 40)
        )
    _xlsx_rows(sheet, columns, _rows(queryset, columns, cap, prepare), cap)
    out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it once sent
    workbook.save(out)
    out.seek(0)
    response = FileResponse(
        out, as_attachment=True, filename=_filename(name, "xlsx"), content_type=XLSX_TYPE
    )
    response["Cache-Control"] = "private, no-store"
    return response


def export_response(
    listing: ListPage,
    columns: Sequence[Column],
    *,
    name: str,
    title: str,
    prepare: Prepare | None = None,
) -> HttpResponseBase:
    """What the list shows, in the format ``listing.export`` names (``csv`` or ``xlsx``)."""
    if listing.export == "xlsx":
        return xlsx_response(listing.queryset, columns, name=name, title=title, prepare=prepare)
    return csv_response(listing.queryset, columns, name=name, prepare=prepare)
