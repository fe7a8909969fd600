"""Import files for the tests: rows as dicts, written as CSV or XLSX."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from apcert.imports.columns import NAMES


def row(cb: str, serial: int, /, **extra: Any) -> dict[str, str]:
    """A valid row of certificate ``serial`` of CB ``cb`` (granted in 2024), one scope line."""
    values = {
        "cb": cb,
        "number": f"IECQ-A {cb} 24.{serial:04d}",
        "programmes": "AP",
        "granted_on": "2024-03-14",
        "expires_on": "2027-03-13",
        "status": "current",
        "status_since": "",
        "status_reason": "",
        "holder_name": f"Holder {serial} GmbH",
        "holder_country": "DE",
        "holder_registration_number": f"HRB {cb} {serial}",
        "holder_registration_authority": "Amtsgericht Dresden",
        "holder_address": "Hauptstrasse 1",
        "category": "EPL",
        "site_name": "Main plant",
        "site_city": "Dresden",
        "site_country": "DE",
        "site_address": "",
        "site_published": "yes",
        "standards": "ISO 9001:2015",
        "wording": f"Electroplating of connector contacts, lot {serial}",
    }
    values.update({k: str(v) for k, v in extra.items()})
    return values


def csv_file(rows: list[dict[str, str]], columns: tuple[str, ...] | list[str] = NAMES) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def xlsx_file(rows: list[dict[str, str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(NAMES))
    for r in rows:
        values: list[Any] = []
        for name in NAMES:
            value: Any = r.get(name, "")
            if name in ("granted_on", "expires_on") and value:
                value = dt.date.fromisoformat(value)  # as a spreadsheet keeps a date
            values.append(value)
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
