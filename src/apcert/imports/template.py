"""The downloadable template: the header of every column and one example row, as CSV or
XLSX, and the column documentation the screen and the docs show."""

from __future__ import annotations

import csv
import io

from apcert.imports import columns as C


def template_csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(C.NAMES)
    writer.writerow([c.example for c in C.COLUMNS])
    return out.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("certificates")
    sheet.append(list(C.NAMES))
    sheet.append([c.example for c in C.COLUMNS])
    notes = book.create_sheet("columns")
    notes.append(["column", "one per", "required", "vocabulary", "description"])
    for c in C.COLUMNS:
        notes.append([c.name, c.level, "yes" if c.required else "no", c.vocabulary, c.description])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template(file_format: str) -> bytes:
    return template_xlsx() if file_format == "xlsx" else template_csv()
