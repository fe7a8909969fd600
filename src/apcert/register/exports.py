"""Bulk export of the public register.

Every certificate that is not a draft, one row (CSV) or one line (JSON Lines) each, with the
public fields of the certificate and its latest issue only. Each JSON line is the
certificate's public document, field for field the answer of
``GET /api/public/certificates/{number}``: the text the search index keeps for it (written
in the same transaction as every change of the certificate, from
:func:`apcert.register.documents.certificate_document_json`), sent as it is stored, as the
API's fast path sends it. Where the calendar has changed the status since it was recorded
the document is given its status of today, with the same function as every other read; a
certificate the index does not hold (yet) has its document built from the certificate, with
the same selectors as the API. Each CSV row flattens that same document; the index keeps
each certificate's row too, made from the same document in the same transaction, and the
CSV export writes those rows as JSON Lines writes the documents, under the same rule for the
status of the day. A test holds the export and the API equal for every certificate. A CSV
cell that begins like a spreadsheet formula is written with a leading single quote.

The register is read in chunks of CHUNK certificates by keyset pagination on the primary key
(``id > last ORDER BY id LIMIT CHUNK``), one query a chunk (the certificates joined to their
index entries) and one more for the few whose stored status no longer holds; the text of one
chunk is made before the next is read, so memory stays bounded by the chunk, not by the
register. An export is not a snapshot of one instant: a certificate that changes while the
export runs is written as it stands when its chunk is read.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.db.models import CharField, F
from django.db.models.functions import Cast
from django.utils import timezone

from apcert.bodies.models import CertificationBody
from apcert.certificates.models import CertificateIssue, CertificateStatusChange
from apcert.certificates.timeline import StatusFacts, status_on
from apcert.core.spreadsheet import neutralised
from apcert.register import selectors
from apcert.register.documents import document_of, document_on_day
from apcert.schemes.models import Scheme, SchemeRules

#: Certificates read per query. A chunk's documents and text are all that is held at once.
CHUNK = 500

#: The CSV columns, in order. Cells with several values (programmes, categories, scope,
#: standards, sites) hold one value per line, in the order of the latest issue.
CSV_COLUMNS: tuple[str, ...] = (
    "number",
    "status",
    "status_since",
    "status_reason_category",
    "status_recorded",
    "holder_name",
    "holder_country",
    "scheme",
    "programmes",
    "categories",
    "scope",
    "standards",
    "sites",
    "cb_code",
    "cb_name",
    "first_issued_on",
    "issue_number",
    "issued_on",
    "valid_from",
    "valid_until",
    "expires_on",
    # Last, so that the columns before them keep their places.
    "transferred_from",
    "transferred_from_url",
    "transferred_to",
    "transferred_to_url",
)


# --- reading ----------------------------------------------------------------------------


class _Directory:
    """The CBs and schemes an export has met: a few dozen rows, each read once (one query
    for all those a chunk is the first to meet) instead of joined to every certificate."""

    def __init__(self) -> None:
        self.cbs: dict[int, dict[str, str]] = {}
        self.schemes: dict[int, dict[str, str]] = {}
        self.rules: dict[int, SchemeRules] = {}

    def load(self, cb_ids: set[int], scheme_ids: set[int]) -> None:
        missing = cb_ids - self.cbs.keys()
        if missing:
            cbs = CertificationBody.objects.filter(pk__in=missing)
            for pk, code, name, country in cbs.values_list("pk", "code", "name", "country"):
                self.cbs[pk] = {"code": code, "name": name, "country": country}
        missing = scheme_ids - self.schemes.keys()
        if missing:
            schemes = Scheme.objects.filter(pk__in=missing)
            for pk, code, name in schemes.values_list("pk", "code", "name"):
                self.schemes[pk] = {"code": code, "name": name}
            for rules in SchemeRules.objects.filter(scheme_id__in=missing):
                self.rules[rules.scheme_id] = rules


_CERTIFICATE_COLUMNS = (
    "pk",
    "number",
    "status",
    "status_since",
    "first_issued_on",
    "expires_on",
    "cb_id",
    "scheme_id",
    "lapses_on",
    "surveillance_due_by",
)


def _document(
    row: tuple[Any, ...],
    issue: CertificateIssue,
    reason_category: str | None,
    directory: _Directory,
    transfer: selectors.TransferLinks,
    today: dt.date,
) -> dict[str, Any]:
    """The public document of a certificate (:func:`apcert.register.documents.document_of`,
    as the API answers), from the pieces a chunk has read, with its status today."""
    _pk, number, status, status_since, first_issued_on, expires_on, cb_id, scheme_id = row[:8]
    document = document_of(
        number=number,
        status=status,
        status_since=status_since,
        status_reason_category=reason_category,
        first_issued_on=first_issued_on,
        expires_on=expires_on,
        cb=directory.cbs[cb_id],
        scheme=directory.schemes[scheme_id],
        issue=issue,
        transfer=transfer,
    )
    return _on_day(document, row, directory, today)


def _lapsed(row: tuple[Any, ...], today: dt.date) -> bool:
    """Whether the calendar has changed the certificate's status since it was recorded."""
    lapses_on = row[8]
    return lapses_on is not None and lapses_on <= today


def _on_day(
    document: dict[str, Any], row: tuple[Any, ...], directory: _Directory, today: dt.date
) -> dict[str, Any]:
    """``document`` with the status of ``today``: the same function of the same facts as
    every other read, where the calendar has changed it since it was recorded."""
    if not _lapsed(row, today):
        return document
    _pk, _number, status, status_since, _first, expires_on, _cb, scheme_id, _l, due_by = row[:10]
    rules = directory.rules[scheme_id]
    facts = StatusFacts(
        status=status,
        status_since=status_since,
        expires_on=expires_on,
        surveillance_due_by=due_by,
        max_suspension_months=rules.max_suspension_months,
        suspension_end_action=rules.suspension_end_action,
    )
    return document_on_day(document, status_on(facts, today))


def _built(
    rows: list[tuple[Any, ...]], directory: _Directory, today: dt.date
) -> dict[int, dict[str, Any]]:
    """The public documents of ``rows`` built from the certificates: four queries whatever
    their number (their latest issues, the reason categories of their status changes, the
    free-text reason not even read, and their transfer links), and one each for the CBs and
    schemes met first."""
    ids = [row[0] for row in rows]
    issues = {
        issue.certificate_id: issue
        for issue in CertificateIssue.objects.filter(
            certificate_id__in=ids, issue_number=F("certificate__current_issue_number")
        ).order_by()  # one issue per certificate: no order to sort into
    }
    # In the order the changes took effect, so that each certificate keeps its last.
    reasons = dict(
        CertificateStatusChange.objects.filter(certificate_id__in=ids)
        .order_by("effective_on", "id")
        .values_list("certificate_id", "reason_category")
    )
    transfers = selectors.transfer_links(ids)
    directory.load({row[6] for row in rows}, {row[7] for row in rows})
    return {
        row[0]: _document(
            row,
            issues[row[0]],
            reasons.get(row[0]),
            directory,
            transfers.get(row[0], selectors.NO_TRANSFER),
            today,
        )
        for row in rows
    }


def _compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


_DOCUMENT = len(_CERTIFICATE_COLUMNS)  # where the stored document follows a row's columns


def _documents_today(
    ids: list[int], directory: _Directory, today: dt.date
) -> dict[int, dict[str, Any]]:
    """The public documents of these certificates with their status of ``today``: the
    stored document where the index has one, else built from the certificate. Two queries
    at most (the certificates with their stored documents, and the pieces of those the
    index does not hold)."""
    full = list(
        selectors.public_certificates()
        .filter(pk__in=ids)
        .values_list(*_CERTIFICATE_COLUMNS, "search_entry__document")
    )
    stored = [row for row in full if row[_DOCUMENT] is not None]
    unstored = [row for row in full if row[_DOCUMENT] is None]
    documents = _built(unstored, directory, today) if unstored else {}
    if stored:
        directory.load(set(), {row[7] for row in stored})
    for row in stored:
        documents[row[0]] = _on_day(orjson.loads(row[_DOCUMENT]), row, directory, today)
    return documents


def _public_texts(
    column: str,
    render: Callable[[dict[str, Any]], str],
    chunk: int,
    on: dt.date | None = None,
) -> Iterator[list[str]]:
    """The text of every public certificate in one format, in id order, a chunk at a time:
    what the search index keeps in ``column`` for it, read with the certificate in one
    query a chunk. Where the calendar has changed the status since it was recorded, or
    the index holds no such text for the certificate (yet), the text is ``render`` of its
    public document of the day ``on`` (today unless given)."""
    directory = _Directory()
    after = 0
    today = on or timezone.localdate()
    day = today.isoformat()
    while True:
        # The expiry of the recorded status read as text (ISO dates compare as text), so
        # that no date is parsed for the many rows whose stored text stands as it is.
        rows = list(
            selectors.public_certificates()
            .filter(pk__gt=after)
            .order_by("pk")
            .annotate(lapses=Cast("lapses_on", CharField()))
            .values_list("pk", "lapses", f"search_entry__{column}")[:chunk]
        )
        if not rows:
            return
        other = [pk for pk, lapses, text in rows if text is None or (lapses or "9") <= day]
        documents = _documents_today(other, directory, today) if other else {}
        yield [render(documents[pk]) if pk in documents else text for pk, _lapses, text in rows]
        after = rows[-1][0]


def public_document_texts(chunk: int = CHUNK, on: dt.date | None = None) -> Iterator[list[str]]:
    """The public document of every public certificate as compact JSON, in id order, a
    chunk at a time: the text the search index keeps for it, the bytes the API sends.
    Where the calendar has changed the status since it was recorded, the document is given
    its status of today; where the index has no entry for a certificate (yet), the
    document is built from the certificate itself."""
    return _public_texts("document", _compact, chunk, on)


def public_documents(chunk: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """:func:`public_document_texts` as documents."""
    for texts in public_document_texts(chunk):
        yield [json.loads(text) for text in texts]


def public_certificate_count() -> int:
    """How many rows an export will have (for progress bars; may change while it runs)."""
    return selectors.public_certificates().count()


# --- writing ----------------------------------------------------------------------------


def csv_row(document: dict[str, Any]) -> list[str]:
    """The CSV cells of one certificate, from its public document, in the order of
    CSV_COLUMNS. Built as one list, straight from the parsed document: an export makes one
    a certificate, and a dict of the cells walked again by column name cost more than the
    rest of the row. A value inside a multi-value cell has its whitespace made single
    spaces, so that it holds no line break, which separates the values."""
    holder = document["holder"]
    cb = document["cb"]
    lines = document["scope_lines"]
    moved_from = document["transferred_from"] or _NO_LINK
    moved_to = document["transferred_to"] or _NO_LINK
    return [
        document["number"],
        document["status"],
        document["status_since"],
        document["status_reason_category"] or "",
        "true" if document["status_recorded"] else "false",
        holder["name"],
        holder["country"],
        document["scheme"]["code"],
        "\n".join([p["code"] for p in document["programmes"]]),
        "\n".join(dict.fromkeys([line["category"] for line in lines])),
        "\n".join([f"{line['category']}: {' '.join(line['wording'].split())}" for line in lines]),
        "\n".join([f"{s['designation']}:{s['edition']}" for s in document["standards"]]),
        "\n".join(
            [
                f"{' '.join(s['name'].split())}, {' '.join(s['city'].split())}, {s['country']}"
                for s in document["sites"]
            ]
        ),
        cb["code"],
        cb["name"],
        document["first_issued_on"],
        str(document["issue_number"]),
        document["issued_on"],
        document["valid_from"],
        document["valid_until"],
        document["expires_on"],
        moved_from["number"],
        moved_from["url"],
        moved_to["number"],
        moved_to["url"],
    ]


#: The cells of a transfer link a certificate does not have.
_NO_LINK = {"number": "", "url": ""}


def _csv_text(rows: list[list[str]]) -> str:
    """CSV text of rows of cells: the one place where the text of every cell is written,
    for the header, the rows the index keeps (:func:`csv_line`) and the rows made at
    export time. A cell that a spreadsheet would run as a formula (a holder or a site
    named ``=HYPERLINK(...)``) gets a leading single quote; no column of the register is a
    number that may be negative, so every cell is treated alike. A change here changes
    the rows the index keeps: a migration writes them again (as ``apcert reindex``
    does), and ``apcert reindex --check`` names those that differ."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [[neutralised(cell) for cell in row] for row in rows]
    )
    return buffer.getvalue()


def csv_line(document: dict[str, Any]) -> str:
    """The CSV row of one certificate as text, line end included: what the search index
    keeps beside the document (written from the same document in the same transaction),
    and what the export writes."""
    return _csv_text([csv_row(document)])


def csv_parts(chunk: int = CHUNK, on: dt.date | None = None) -> Iterator[tuple[int, str]]:
    """The CSV export as (certificates, text) parts: the header, then a part per chunk: the
    rows the search index keeps, as they are, like the stored documents of JSON Lines.
    Only a certificate whose status the calendar has changed since it was recorded, or
    whose row the index does not hold, has its row made from its document of today."""
    yield 0, _csv_text([list(CSV_COLUMNS)])
    for texts in _public_texts("csv_row", csv_line, chunk, on):
        yield len(texts), "".join(texts)


def jsonl_line(document: dict[str, Any]) -> str:
    """One JSON Lines line: the document as compact JSON, as the API sends it."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


def jsonl_parts(chunk: int = CHUNK, on: dt.date | None = None) -> Iterator[tuple[int, str]]:
    """The JSON Lines export as (certificates, text) parts, a part per chunk: the stored
    documents as they are, one a line."""
    for texts in public_document_texts(chunk, on):
        yield len(texts), "".join(text + "\n" for text in texts)


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its parts (``parts(chunk)``, or ``parts(chunk, on)`` for the
    statuses of the day ``on``), and how a download of it is named and typed."""

    name: str
    content_type: str
    parts: Callable[..., Iterator[tuple[int, str]]]

    def filename(self, on: dt.date) -> str:
        return f"apcert-register-{on.isoformat()}.{self.name}"

    def chunks(self, chunk: int = CHUNK, on: dt.date | None = None) -> Iterator[str]:
        """The export's text, a chunk at a time, with the statuses of the day ``on`` (today
        unless given)."""
        parts = self.parts(chunk) if on is None else self.parts(chunk, on)
        return (text for _count, text in parts)


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", csv_parts),
    "jsonl": ExportFormat("jsonl", "application/jsonl; charset=utf-8", jsonl_parts),
}


__all__ = [
    "CHUNK",
    "CSV_COLUMNS",
    "FORMATS",
    "ExportFormat",
    "csv_line",
    "csv_parts",
    "csv_row",
    "jsonl_line",
    "jsonl_parts",
    "public_certificate_count",
    "public_document_texts",
    "public_documents",
]
