"""Checking an import file row by row against the columns and the scheme's reference data,
before anything is written: every problem found, as (row, column, code, message), and the
certificates the rows describe, grouped by number and normalized (:class:`CertificateFacts`).

Nothing here writes; the reference data (CBs, acceptances, programmes, categories,
standards) is read once per file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from apcert.bodies.models import CBAcceptance, CertificationBody
from apcert.certificates.numbering import format_number
from apcert.core.dates import today
from apcert.imports import columns as C
from apcert.imports.errors import (
    IMPORT_CATEGORY_UNKNOWN,
    IMPORT_CB_NOT_ALLOWED,
    IMPORT_CB_UNKNOWN,
    IMPORT_COLUMN_MISSING,
    IMPORT_COLUMN_UNKNOWN,
    IMPORT_COUNTRY_INVALID,
    IMPORT_DATE_INVALID,
    IMPORT_DATE_ORDER,
    IMPORT_FILE_EMPTY,
    IMPORT_FILE_UNREADABLE,
    IMPORT_FLAG_INVALID,
    IMPORT_HOLDER_CONFLICT,
    IMPORT_LINE_DUPLICATE,
    IMPORT_NUMBER_MALFORMED,
    IMPORT_NUMBER_MISMATCH,
    IMPORT_PROGRAMME_NOT_ACCEPTED,
    IMPORT_PROGRAMME_UNKNOWN,
    IMPORT_ROW_CONFLICT,
    IMPORT_SCOPE_OUTSIDE_ACCEPTANCE,
    IMPORT_STANDARD_NOT_ACCEPTED,
    IMPORT_STANDARD_UNKNOWN,
    IMPORT_STATUS_REASON_UNKNOWN,
    IMPORT_STATUS_UNKNOWN,
    IMPORT_VALUE_REQUIRED,
    IMPORT_VALUE_TOO_LONG,
)
from apcert.imports.reader import FileUnreadable, Sheet
from apcert.schemes.models import ProcessCategory, Programme, SchemeRules, Standard

#: ``IECQ-<letter> <CB code> <YY>.<NNNN>``: the serial has at least four digits, with no
#: leading zero beyond them, so that a number and its (CB, year, serial) name each other.
NUMBER = re.compile(r"^IECQ-([A-Z]{1,2}) ([A-Z0-9]{2,8}) (\d{2})\.(\d{4,})$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    code: str
    message: str

    def as_list(self) -> list[Any]:
        return [self.row, self.column, self.code, self.message]


@dataclass
class CertificateFacts:
    """One certificate as the file gives it: its normalized facts (plain JSON values),
    the rows it came from and the parsed number."""

    number: str
    rows: list[int]
    facts: dict[str, Any]
    cb_id: int
    scheme_id: int
    year: int
    serial: int
    valid: bool = True

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.facts)


def fingerprint(facts: dict[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def holder_key(holder: dict[str, Any]) -> tuple[str, str, str]:
    """How a holder is recognised: its registration number in its country, or, with none,
    its name there."""
    if holder["registration_number"]:
        return ("number", holder["country"], holder["registration_number"])
    return ("name", holder["country"], holder["name"].casefold())


class Vocabulary:
    """The reference data a file is checked against, read once."""

    def __init__(self) -> None:
        self.cbs = {cb.code.upper(): cb for cb in CertificationBody.objects.all()}
        self.programmes = {p.code: p for p in Programme.objects.all()}
        self.categories = {c.code: c for c in ProcessCategory.objects.all()}
        parents = {c.pk: c.parent_id for c in self.categories.values()}
        by_id = {c.pk: c.code for c in self.categories.values()}
        #: Each category's code and its ancestors' codes.
        self.ancestry: dict[str, set[str]] = {}
        for category in self.categories.values():
            codes: set[str] = set()
            pk: int | None = category.pk
            while pk is not None:
                codes.add(by_id[pk])
                pk = parents.get(pk)
            self.ancestry[category.code] = codes
        self.standards = {(s.designation, s.edition): s for s in Standard.objects.all()}
        self.rules = {r.scheme_id: r for r in SchemeRules.objects.all()}
        self.letters = {pk: r.certificate_letter for pk, r in self.rules.items()}
        self.acceptances: dict[tuple[int, int], tuple[CBAcceptance, set[str]]] = {}
        for acc in CBAcceptance.objects.prefetch_related("categories"):
            self.acceptances[(acc.cb_id, acc.programme_id)] = (
                acc,
                {c.code for c in acc.categories.all()},
            )


class Checker:
    """Checks rows one at a time (:meth:`row`), then the file as a whole (:meth:`finish`).

    ``allowed_cb_ids``: the CBs whose rows this import may write (None: every CB)."""

    def __init__(self, vocabulary: Vocabulary, allowed_cb_ids: set[int] | None) -> None:
        self.v = vocabulary
        self.allowed = allowed_cb_ids
        self.today = today()
        self.problems: list[Problem] = []
        self.certificates: dict[str, CertificateFacts] = {}
        #: The certificate columns' text as first given, per number, for the later rows.
        self._first: dict[str, tuple[int, dict[str, str]]] = {}
        self._holders: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = {}
        self._sites: dict[tuple[tuple[str, str, str], str], tuple[int, dict[str, Any]]] = {}
        self.rows = 0

    def problem(self, row: int, column: str, code: str, message: str) -> None:
        self.problems.append(Problem(row, column, code, message))

    # --- the header ----------------------------------------------------------------------

    def header(self, header: list[str]) -> bool:
        """Check the header; False when a required column is missing (no row can be read)."""
        named = [h for h in header if h]
        for name in named:
            if name not in C.BY_NAME:
                self.problem(
                    1, name, IMPORT_COLUMN_UNKNOWN,
                    f"'{name}' is not a column of the import; the columns are "
                    f"{', '.join(C.NAMES)}.",
                )  # fmt: skip
        missing = [name for name in C.REQUIRED if name not in named]
        for name in missing:
            self.problem(1, name, IMPORT_COLUMN_MISSING, f"The header has no column '{name}'.")
        return not missing

    # --- one row -------------------------------------------------------------------------

    def _text(self, n: int, cells: dict[str, str], name: str) -> str | None:
        """The cell's text, checked for presence and length; None after a problem."""
        column = C.BY_NAME[name]
        value = cells.get(name, "").strip()
        if not value and column.required:
            self.problem(n, name, IMPORT_VALUE_REQUIRED, f"'{name}' is required.")
            return None
        if column.max_length and len(value) > column.max_length:
            self.problem(
                n, name, IMPORT_VALUE_TOO_LONG,
                f"'{name}' holds {len(value)} characters; at most {column.max_length}.",
            )  # fmt: skip
            return None
        return value

    def _date(self, n: int, cells: dict[str, str], name: str) -> dt.date | None:
        text = self._text(n, cells, name)
        if not text:
            return None
        try:
            if not DATE.match(text):
                raise ValueError
            return dt.date.fromisoformat(text)
        except ValueError:
            self.problem(n, name, IMPORT_DATE_INVALID, f"'{text}' is not a date YYYY-MM-DD.")
            return None

    def _country(self, n: int, cells: dict[str, str], name: str) -> str | None:
        text = self._text(n, cells, name)
        if text is None:
            return None
        code = text.upper()
        if not COUNTRY.match(code):
            self.problem(
                n, name, IMPORT_COUNTRY_INVALID,
                f"'{text}' is not a country code: use the two letters of ISO 3166-1 (e.g. DE).",
            )  # fmt: skip
            return None
        return code

    def row(self, n: int, cells: dict[str, str]) -> None:
        self.rows += 1
        before = len(self.problems)
        number = self._text(n, cells, "number")
        if number is None:
            self._line(n, cells)
            return
        number = " ".join(number.split())
        first = self._first.get(number)
        if first is not None:
            # A later row of a certificate: its certificate columns say what the first did.
            first_row, first_cells = first
            for name in C.CERTIFICATE_COLUMNS:
                if cells.get(name, "").strip() != first_cells.get(name, "").strip():
                    self.problem(
                        n, name, IMPORT_ROW_CONFLICT,
                        f"'{name}' of {number} is {cells.get(name, '')!r} here and "
                        f"{first_cells.get(name, '')!r} on row {first_row}: a certificate has "
                        "one value, repeated on each of its rows.",
                    )  # fmt: skip
            line = self._line(n, cells)
            cert = self.certificates.get(number)
            if cert is None:
                return  # its first row had problems, reported there
            cert.rows.append(n)
            if line is None or len(self.problems) > before:
                cert.valid = False
                return
            self._add_line(n, cert, line)
            return
        self._first[number] = (n, {k: cells.get(k, "") for k in C.CERTIFICATE_COLUMNS})
        cert = self._certificate(n, number, cells)
        line = self._line(n, cells)
        if cert is None or line is None or len(self.problems) > before:
            if cert is not None:
                cert.valid = False
                self.certificates[number] = cert
            return
        self.certificates[number] = cert
        self._add_line(n, cert, line)

    def _certificate(self, n: int, number: str, cells: dict[str, str]) -> CertificateFacts | None:
        cb = self._cb(n, cells)
        programmes = self._programmes(n, cells)
        granted = self._date(n, cells, "granted_on")
        expires = self._date(n, cells, "expires_on")
        status, since, reason = self._status(n, cells)
        surveilled = self._date(n, cells, "last_surveillance_on")
        holder = {
            "name": self._text(n, cells, "holder_name"),
            "country": self._country(n, cells, "holder_country"),
            "registration_number": self._text(n, cells, "holder_registration_number"),
            "registration_authority": self._text(n, cells, "holder_registration_authority"),
            "address": self._text(n, cells, "holder_address"),
        }
        self._dates_in_order(n, cells, granted, expires, status, since, surveilled)
        scheme_id = programmes[0].scheme_id if programmes else 0
        parsed = self._number(n, number, cb, scheme_id, granted)
        if cb is not None and granted is not None:
            self._accepted(n, cb, programmes, granted)
        if (
            cb is None or not programmes or granted is None or expires is None or not status
            or parsed is None or None in (holder["name"], holder["country"])
        ):  # fmt: skip
            return None
        facts = {
            "cb": cb.code,
            "number": number,
            "programmes": sorted({p.code for p in programmes}),
            "granted_on": granted.isoformat(),
            "expires_on": expires.isoformat(),
            "status": status,
            "status_since": (since or granted).isoformat(),
            "status_reason": reason or C.DEFAULT_REASON[status],
            "last_surveillance_on": surveilled.isoformat() if surveilled else "",
            "holder": holder,
            "lines": [],
        }
        return CertificateFacts(number, [n], facts, cb.pk, scheme_id, granted.year, parsed)

    def _cb(self, n: int, cells: dict[str, str]) -> CertificationBody | None:
        """The row's CB, if it is one this import may write for."""
        cb_text = self._text(n, cells, "cb")
        if not cb_text:
            return None
        cb = self.v.cbs.get(cb_text.upper())
        if cb is None:
            self.problem(n, "cb", IMPORT_CB_UNKNOWN, f"There is no certification body {cb_text!r}.")
            return None
        if self.allowed is not None and cb.pk not in self.allowed:
            self.problem(
                n, "cb", IMPORT_CB_NOT_ALLOWED,
                f"This import writes certificates of {self._allowed_words()} only, "
                f"not of {cb.code}.",
            )  # fmt: skip
            return None
        return cb

    def _programmes(self, n: int, cells: dict[str, str]) -> list[Programme]:
        programmes = []
        for code in _split(self._text(n, cells, "programmes") or ""):
            programme = self.v.programmes.get(code.upper())
            if programme is None:
                self.problem(
                    n, "programmes", IMPORT_PROGRAMME_UNKNOWN,
                    f"There is no programme {code!r}; the programmes are "
                    f"{', '.join(sorted(self.v.programmes))}.",
                )  # fmt: skip
            else:
                programmes.append(programme)
        return programmes

    def _status(self, n: int, cells: dict[str, str]) -> tuple[str, dt.date | None, str]:
        """The status, its date and its reason category ("" where none is valid)."""
        status = (self._text(n, cells, "status") or "").lower()
        if status and status not in C.STATUSES:
            self.problem(
                n, "status", IMPORT_STATUS_UNKNOWN,
                f"'{status}' is not a status; the statuses are {', '.join(C.STATUSES)}.",
            )  # fmt: skip
            status = ""
        since = self._date(n, cells, "status_since")
        reason = (self._text(n, cells, "status_reason") or "").lower()
        if reason and reason not in C.STATUS_REASONS:
            self.problem(
                n, "status_reason", IMPORT_STATUS_REASON_UNKNOWN,
                f"'{reason}' is not a reason category; they are {', '.join(C.STATUS_REASONS)}.",
            )  # fmt: skip
            reason = ""
        return status, since, reason

    def _dates_in_order(
        self,
        n: int,
        cells: dict[str, str],
        granted: dt.date | None,
        expires: dt.date | None,
        status: str,
        since: dt.date | None,
        surveilled: dt.date | None,
    ) -> None:
        """The dates in order, and none after today."""
        if granted and granted > self.today:
            self.problem(n, "granted_on", IMPORT_DATE_ORDER, "The grant date is after today.")
        if granted and expires and expires < granted:
            self.problem(
                n, "expires_on", IMPORT_DATE_ORDER, "The certificate expires before its grant."
            )
        if status and status != "current" and since is None and not cells.get("status_since"):
            self.problem(
                n, "status_since", IMPORT_VALUE_REQUIRED,
                f"A {status} certificate needs the date its status took effect.",
            )  # fmt: skip
        if status == "current" and since is not None and granted is not None and since != granted:
            self.problem(
                n, "status_since", IMPORT_DATE_ORDER,
                "A current certificate is current since its grant: leave status_since empty "
                "or give the grant date.",
            )  # fmt: skip
        if since is not None and granted is not None and since <= granted and status != "current":
            self.problem(
                n, "status_since", IMPORT_DATE_ORDER,
                f"The {status or 'status'} took effect on or before the grant.",
            )  # fmt: skip
        if since is not None and since > self.today:
            self.problem(n, "status_since", IMPORT_DATE_ORDER, "The status date is after today.")
        if surveilled is not None and (
            surveilled > self.today or (granted is not None and surveilled < granted)
        ):
            self.problem(
                n, "last_surveillance_on", IMPORT_DATE_ORDER,
                "The last surveillance falls before the grant or after today.",
            )  # fmt: skip

    def _number(
        self,
        n: int,
        number: str,
        cb: CertificationBody | None,
        scheme_id: int,
        granted: dt.date | None,
    ) -> int | None:
        """The number's serial, once its letter, CB and year agree with the row; None for
        a malformed number."""
        match = NUMBER.match(number)
        if match is None or f"{int(match.group(4)):04d}" != match.group(4):
            self.problem(
                n, "number", IMPORT_NUMBER_MALFORMED,
                f"'{number}' is not a certificate number IECQ-<letter> <CB code> <YY>.<NNNN>.",
            )  # fmt: skip
            return None
        letter, code, yy, digits = match.groups()
        serial = int(digits)
        wrong = []
        if cb is not None and code != cb.code.upper():
            wrong.append(f"names CB {code}, not {cb.code}")
        if scheme_id and letter != self.v.letters.get(scheme_id, letter):
            wrong.append(f"has the letter {letter}, not {self.v.letters[scheme_id]}")
        if granted is not None and int(yy) != granted.year % 100:
            wrong.append(f"has the year {yy}, not the grant's {granted.year % 100:02d}")
        rules = self.v.rules.get(scheme_id)
        if not wrong and cb is not None and granted is not None and rules is not None:
            written = format_number(rules, cb_code=cb.code, year=granted.year, serial=serial)
            if written != number:
                wrong.append(f"is written {written} by the scheme")
        if wrong:
            self.problem(n, "number", IMPORT_NUMBER_MISMATCH, f"{number} {'; '.join(wrong)}.")
        return serial

    def _accepted(
        self, n: int, cb: CertificationBody, programmes: list[Programme], granted: dt.date
    ) -> None:
        """The CB held an acceptance for each programme on the grant date."""
        for programme in programmes:
            acc = self.v.acceptances.get((cb.pk, programme.pk))
            if acc is None or not acc[0].is_current_on(granted):
                self.problem(
                    n, "programmes", IMPORT_PROGRAMME_NOT_ACCEPTED,
                    f"{cb.code} held no IECQ acceptance for {programme.code} on "
                    f"{granted.isoformat()}.",
                )  # fmt: skip

    def _allowed_words(self) -> str:
        codes = sorted(
            cb.code for cb in self.v.cbs.values() if self.allowed and cb.pk in self.allowed
        )
        return ", ".join(codes) or "no certification body"

    def _line(self, n: int, cells: dict[str, str]) -> dict[str, Any] | None:
        v = self.v
        category = self._text(n, cells, "category")
        if category:
            category = category.upper()
            if category not in v.categories:
                self.problem(
                    n, "category", IMPORT_CATEGORY_UNKNOWN,
                    f"There is no process category {category!r}.",
                )  # fmt: skip
                category = None
        published_text = (cells.get("site_published", "") or "").strip().lower()
        published = True
        if published_text in C.NO:
            published = False
        elif published_text and published_text not in C.YES:
            self.problem(
                n, "site_published", IMPORT_FLAG_INVALID,
                f"'{published_text}' is neither yes nor no.",
            )  # fmt: skip
        site = {
            "name": self._text(n, cells, "site_name"),
            "city": self._text(n, cells, "site_city"),
            "country": self._country(n, cells, "site_country"),
            "address": self._text(n, cells, "site_address"),
            "published": published,
        }
        standards = []
        for ref in _split(cells.get("standards", "")):
            designation, _, edition = ref.rpartition(":")
            standard = v.standards.get((designation.strip(), edition.strip()))
            if standard is None:
                self.problem(
                    n, "standards", IMPORT_STANDARD_UNKNOWN,
                    f"The standards catalogue has no {ref!r} (write designation:edition, "
                    "e.g. ISO 9001:2015).",
                )  # fmt: skip
            elif not standard.accepted_for_iecq:
                self.problem(
                    n, "standards", IMPORT_STANDARD_NOT_ACCEPTED,
                    f"{standard.reference} is not accepted for use in IECQ.",
                )  # fmt: skip
            else:
                standards.append(standard.reference)
        wording = self._text(n, cells, "wording")
        if not category or None in site.values() or not wording:
            return None
        return {
            "category": category,
            "site": site,
            "standards": sorted(set(standards)),
            "wording": wording,
        }

    def _add_line(self, n: int, cert: CertificateFacts, line: dict[str, Any]) -> None:
        facts = cert.facts
        key = (line["category"], line["site"]["name"])
        if any((old["category"], old["site"]["name"]) == key for old in facts["lines"]):
            self.problem(
                n, "category", IMPORT_LINE_DUPLICATE,
                f"{cert.number} has {line['category']} at {line['site']['name']} on an "
                "earlier row already.",
            )  # fmt: skip
            cert.valid = False
            return
        # The scope must be inside the CB's acceptance for each of its programmes.
        cb_id = cert.cb_id
        for code in facts["programmes"]:
            acc = self.v.acceptances.get((cb_id, self.v.programmes[code].pk))
            if acc is None:
                continue  # reported with the programme
            limited = acc[1]
            if limited and not (self.v.ancestry[line["category"]] & limited):
                self.problem(
                    n, "category", IMPORT_SCOPE_OUTSIDE_ACCEPTANCE,
                    f"{line['category']} is outside {facts['cb']}'s acceptance for {code}.",
                )  # fmt: skip
                cert.valid = False
                return
        holder = holder_key(facts["holder"])
        seen = self._sites.setdefault((holder, line["site"]["name"]), (n, line["site"]))
        if seen[1] != line["site"]:
            self.problem(
                n, "site_name", IMPORT_ROW_CONFLICT,
                f"The site {line['site']['name']} of this holder is described otherwise on "
                f"row {seen[0]} (city, country, address and whether published are the site's).",
            )  # fmt: skip
            cert.valid = False
            return
        facts["lines"].append(line)

    # --- the whole file ------------------------------------------------------------------

    def finish(self) -> list[CertificateFacts]:
        """The file's certificates, scope lines in a fixed order; holders checked across
        certificates (one registration number, one holder)."""
        out = []
        for cert in self.certificates.values():
            facts = cert.facts
            key = holder_key(facts["holder"])
            seen = self._holders.setdefault(key, (cert.rows[0], facts["holder"]))
            if seen[1] != facts["holder"]:
                self.problem(
                    cert.rows[0], "holder_name", IMPORT_HOLDER_CONFLICT,
                    f"The holder {key[2]} ({key[1]}) is described otherwise on row {seen[0]}: "
                    "one holder, one name, authority and address.",
                )  # fmt: skip
                cert.valid = False
            facts["lines"].sort(key=lambda line: (line["category"], line["site"]["name"]))
            out.append(cert)
        return out


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(C.SEPARATOR) if part.strip()]


@dataclass
class CheckedFile:
    rows: int
    problems: list[Problem]
    certificates: list[CertificateFacts] = field(default_factory=list)


def check_sheet(read: Any, allowed_cb_ids: set[int] | None, progress: Any = None) -> CheckedFile:
    """Check a file. ``read()`` returns its :class:`Sheet` (or raises FileUnreadable);
    ``progress(n)`` is told of every thousand rows read."""
    if progress is not None:
        progress(0)
    checker = Checker(Vocabulary(), allowed_cb_ids)
    try:
        sheet: Sheet = read()
        if not any(sheet.header):
            checker.problem(0, "", IMPORT_FILE_EMPTY, "The file holds nothing, not even a header.")
            return CheckedFile(0, checker.problems)
        if not checker.header(sheet.header):
            return CheckedFile(0, checker.problems)
        rows: Iterator[tuple[int, dict[str, str]]] = sheet.rows
        for n, cells in rows:
            checker.row(n, cells)
            if progress is not None and checker.rows % 1000 == 0:
                progress(checker.rows)
    except FileUnreadable as exc:
        checker.problem(0, "", IMPORT_FILE_UNREADABLE, f"The file cannot be read: {exc}.")
        return CheckedFile(checker.rows, checker.problems)
    if progress is not None:
        progress(checker.rows)
    if checker.rows == 0:
        checker.problem(0, "", IMPORT_FILE_EMPTY, "The file holds no row of certificates.")
    certificates = checker.finish()
    checker.problems.sort(
        key=lambda p: (p.row, C.NAMES.index(p.column) if p.column in C.BY_NAME else -1)
    )
    return CheckedFile(checker.rows, checker.problems, certificates)
