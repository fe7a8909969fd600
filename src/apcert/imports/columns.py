"""The columns of an import file: the one place that names them, says which are required,
which hold one value per certificate (repeated on each of its rows) or per scope line, and
which controlled vocabulary each draws from. The template, the documentation page, the
reader and the validator all read this table.

One row per certificate and scope line: a certificate with three scope lines has three
rows, its certificate columns the same on each."""

from __future__ import annotations

from dataclasses import dataclass

from apcert.certificates.choices import PUBLIC_STATUSES, StatusReason

#: Where a column's value belongs.
CERTIFICATE = "certificate"
LINE = "scope line"

#: Several values in one cell (programmes, standards) are separated by this.
SEPARATOR = ";"
YES = frozenset({"yes", "y", "true", "1"})
NO = frozenset({"no", "n", "false", "0"})


@dataclass(frozen=True)
class Column:
    name: str
    level: str
    required: bool
    description: str
    #: The vocabulary the value is drawn from, in words (the screen lists its values).
    vocabulary: str = ""
    max_length: int = 0
    example: str = ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "cb", CERTIFICATE, True, "The certification body's code, as the Secretariat gave it.",
        "certification bodies", 8, "TUV",
    ),
    Column(
        "number", CERTIFICATE, True,
        "The certificate number as issued: IECQ-<letter> <CB code> <YY>.<NNNN>. Kept as it is; "
        "it identifies the certificate in later imports.",
        "", 40, "IECQ-A TUV 19.0042",
    ),
    Column(
        "programmes", CERTIFICATE, True,
        "The scheme programme codes the certificate covers, separated by ';'.",
        "programmes", 0, "AP",
    ),
    Column(
        "granted_on", CERTIFICATE, True,
        "The date of the initial certification decision and first issue (YYYY-MM-DD).",
        "", 0, "2019-03-14",
    ),
    Column(
        "expires_on", CERTIFICATE, True, "The last day of validity (YYYY-MM-DD).",
        "", 0, "2025-03-13",
    ),
    Column(
        "status", CERTIFICATE, True, "The certificate's status today.", "statuses", 0, "current",
    ),
    Column(
        "status_since", CERTIFICATE, False,
        "The date the status took effect (YYYY-MM-DD); required unless current (a current "
        "certificate is current since its grant).",
        "", 0, "",
    ),
    Column(
        "status_reason", CERTIFICATE, False,
        "The public reason category of the status (default: granted for current, other for "
        "suspended and withdrawn, holder_request for cancelled, validity_ended for expired).",
        "status reasons", 0, "",
    ),
    Column(
        "last_surveillance_on", CERTIFICATE, False,
        "The last day of the last surveillance audit carried out (YYYY-MM-DD). Every "
        "surveillance of the programme due up to that day is recorded as carried out, so that "
        "the scheme's calendar counts the next one from there; without it, surveillance counts "
        "from the grant.",
        "", 0, "",
    ),
    Column(
        "holder_name", CERTIFICATE, True, "The holder's legal name.", "", 300, "Plating Works GmbH",
    ),
    Column(
        "holder_country", CERTIFICATE, True, "The holder's country (ISO 3166-1 alpha-2).",
        "countries", 0, "DE",
    ),
    Column(
        "holder_registration_number", CERTIFICATE, False,
        "The holder's registration number; with the country it identifies the holder (an "
        "organization already in the register is reused).",
        "", 100, "HRB 12345",
    ),
    Column(
        "holder_registration_authority", CERTIFICATE, False,
        "Who registered the holder.", "", 200, "Amtsgericht Dresden",
    ),
    Column("holder_address", CERTIFICATE, False, "The holder's address.", "", 0, ""),
    Column(
        "category", LINE, True, "The process category code of the scope line.",
        "process categories", 32, "EPL.NIAU",
    ),
    Column(
        "site_name", LINE, True, "The name of the site of the scope line (one per holder).",
        "", 200, "Main plant",
    ),
    Column("site_city", LINE, True, "The site's city.", "", 120, "Dresden"),
    Column(
        "site_country", LINE, True, "The site's country (ISO 3166-1 alpha-2).", "countries", 0,
        "DE",
    ),
    Column("site_address", LINE, False, "The site's address.", "", 0, ""),
    Column(
        "site_published", LINE, False,
        "Whether the register shows the site (yes or no; default yes).", "yes/no", 0, "yes",
    ),
    Column(
        "standards", LINE, False,
        "The standards the scope line declares, as designation:edition, separated by ';'.",
        "standards catalogue", 0, "ISO 9001:2015",
    ),
    Column(
        "wording", LINE, True, "The scope wording as it reads on the certificate.", "", 0,
        "Electroless nickel immersion gold plating of printed boards",
    ),
)  # fmt: skip

BY_NAME = {c.name: c for c in COLUMNS}
NAMES = tuple(c.name for c in COLUMNS)
REQUIRED = tuple(c.name for c in COLUMNS if c.required)
CERTIFICATE_COLUMNS = tuple(c.name for c in COLUMNS if c.level == CERTIFICATE)
LINE_COLUMNS = tuple(c.name for c in COLUMNS if c.level == LINE)

#: The statuses a file may give: the public ones (a draft is never imported).
STATUSES = tuple(str(s) for s in PUBLIC_STATUSES)
STATUS_REASONS = tuple(StatusReason.values)
#: The reason category a status takes when the file gives none.
DEFAULT_REASON = {
    "current": StatusReason.GRANTED.value,
    "suspended": StatusReason.OTHER.value,
    "withdrawn": StatusReason.OTHER.value,
    "cancelled": StatusReason.HOLDER_REQUEST.value,
    "expired": StatusReason.VALIDITY_ENDED.value,
}
