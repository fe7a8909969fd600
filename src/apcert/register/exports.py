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
the same selectors as the API. Each CSV row flattens that same document. A test holds the
export and the API equal for every certificate.

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

from django.db.models import CharField, F
from django.db.models.functions import Cast
from django.utils import timezone

from apcert.bodies.models import CertificationBody
from apcert.certificates.models import CertificateIssue, CertificateStatusChange
from apcert.certificates.timeline import StatusFacts, status_on
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


def public_document_texts(chunk: int = CHUNK) -> Iterator[list[str]]:
    """The public document of every public certificate as compact JSON, in id order, a
    chunk at a time: the text the search index keeps for it, the bytes the API sends, read
    with the certificate in one query a chunk. Where the calendar has changed the status
    since it was recorded, the document is given its status of today; where the index has
    no entry for a certificate (yet), the document is built from the certificate itself."""
    directory = _Directory()
    after = 0
    today = timezone.localdate()
    day = today.isoformat()
    while True:
        # The expiry of the recorded status read as text (ISO dates compare as text), so
        # that no date is parsed for the many rows whose stored document stands as it is.
        rows = list(
            selectors.public_certificates()
            .filter(pk__gt=after)
            .order_by("pk")
            .annotate(lapses=Cast("lapses_on", CharField()))
            .values_list("pk", "lapses", "search_entry__document")[:chunk]
        )
        if not rows:
            return
        stored = {pk: document for pk, lapses, document in rows if document is not None}
        other = [pk for pk, lapses, document in rows if document is None or (lapses or "9") <= day]
        full = {}
        if other:
            full = {
                row[0]: row
                for row in selectors.public_certificates()
                .filter(pk__in=other)
                .values_list(*_CERTIFICATE_COLUMNS)
            }
        unstored = [full[pk] for pk in other if pk not in stored]
        built = _built(unstored, directory, today) if unstored else {}
        lapsed = {full[pk][7] for pk in other if pk in stored}
        if lapsed:
            directory.load(set(), lapsed)
        texts = []
        for pk, _lapses, _document in rows:
            if pk in built:
                texts.append(_compact(built[pk]))
            elif pk in full:
                texts.append(_compact(_on_day(json.loads(stored[pk]), full[pk], directory, today)))
            else:
                texts.append(stored[pk])
        yield texts
        after = rows[-1][0]


def public_documents(chunk: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """:func:`public_document_texts` as documents."""
    for texts in public_document_texts(chunk):
        yield [json.loads(text) for text in texts]


def public_certificate_count() -> int:
    """How many rows an export will have (for progress bars; may change while it runs)."""
    return selectors.public_certificates().count()


# --- writing ----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    # A value inside a multi-value cell must not hold the line break that separates values.
    return " ".join(str(text).split())


def _transfer_cells(document: dict[str, Any], name: str) -> dict[str, str]:
    link = document[name]
    return {name: link["number"] if link else "", f"{name}_url": link["url"] if link else ""}


def csv_row(document: dict[str, Any]) -> list[str]:
    """The CSV cells of one certificate, from its public document."""
    lines = document["scope_lines"]
    categories = list(dict.fromkeys(line["category"] for line in lines))
    cells: dict[str, Any] = {
        "number": document["number"],
        "status": document["status"],
        "status_since": document["status_since"],
        "status_reason_category": document["status_reason_category"] or "",
        "status_recorded": "true" if document["status_recorded"] else "false",
        "holder_name": document["holder"]["name"],
        "holder_country": document["holder"]["country"],
        "scheme": document["scheme"]["code"],
        "programmes": "\n".join(p["code"] for p in document["programmes"]),
        "categories": "\n".join(categories),
        "scope": "\n".join(f"{line['category']}: {_one_line(line['wording'])}" for line in lines),
        "standards": "\n".join(f"{s['designation']}:{s['edition']}" for s in document["standards"]),
        "sites": "\n".join(
            f"{_one_line(s['name'])}, {_one_line(s['city'])}, {s['country']}"
            for s in document["sites"]
        ),
        "cb_code": document["cb"]["code"],
        "cb_name": document["cb"]["name"],
        "first_issued_on": document["first_issued_on"],
        "issue_number": document["issue_number"],
        "issued_on": document["issued_on"],
        "valid_from": document["valid_from"],
        "valid_until": document["valid_until"],
        "expires_on": document["expires_on"],
        **_transfer_cells(document, "transferred_from"),
        **_transfer_cells(document, "transferred_to"),
    }
    return [str(cells[name]) for name in CSV_COLUMNS]


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def csv_parts(chunk: int = CHUNK) -> Iterator[tuple[int, str]]:
    """The CSV export as (certificates, text) parts: the header, then a part per chunk."""
    yield 0, _csv_text([list(CSV_COLUMNS)])
    for texts in public_document_texts(chunk):
        yield len(texts), _csv_text([csv_row(json.loads(text)) for text in texts])


def jsonl_line(document: dict[str, Any]) -> str:
    """One JSON Lines line: the document as compact JSON, as the API sends it."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"


def jsonl_parts(chunk: int = CHUNK) -> Iterator[tuple[int, str]]:
    """The JSON Lines export as (certificates, text) parts, a part per chunk: the stored
    documents as they are, one a line."""
    for texts in public_document_texts(chunk):
        yield len(texts), "".join(text + "\n" for text in texts)


@dataclass(frozen=True)
class ExportFormat:
    """One export format: its parts, and how a download of it is named and typed."""

    name: str
    content_type: str
    parts: Callable[[int], Iterator[tuple[int, str]]]

    def filename(self, on: dt.date) -> str:
        return f"apcert-register-{on.isoformat()}.{self.name}"

    def chunks(self, chunk: int = CHUNK) -> Iterator[str]:
        """The export's text, a chunk at a time."""
        return (text for _count, text in self.parts(chunk))


FORMATS: dict[str, ExportFormat] = {
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", csv_parts),
    "jsonl": ExportFormat("jsonl", "application/jsonl; charset=utf-8", jsonl_parts),
}


__all__ = [
    "CHUNK",
    "CSV_COLUMNS",
    "FORMATS",
    "ExportFormat",
    "csv_parts",
    "csv_row",
    "jsonl_line",
    "jsonl_parts",
    "public_certificate_count",
    "public_document_texts",
    "public_documents",
]
