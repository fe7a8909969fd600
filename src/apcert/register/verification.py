"""The answers of the register's verification page (``/verify``), in plain words.

Two questions. "Is certificate X (issue N) valid?": answered from the register's own record
(:func:`number_answer`), which is what the QR code of a certificate PDF opens. "Is this
signed credential genuine, and is it still good?": a PDF or a credential's JSON, checked with
:func:`~apcert.credentials.verification.verify_credential` against the register's own trust
store, and its status read from the status lists in the database, not over HTTP
(:func:`credential_answer`). Public fields only: dates, status and the
reason category, never a free-text reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_status_on
from apcert.core import bounded_json
from apcert.credentials import identifiers
from apcert.credentials import selectors as credential_selectors
from apcert.credentials.status import (
    UNKNOWN_CODES,
    StatusEntry,
    StatusLookup,
    StatusUnavailable,
    status_check,
)
from apcert.credentials.verification import VerificationResult, issuer_id_of, verify_credential
from apcert.documents import DocumentError, extract_credential
from apcert.documents.errors import (
    ATTACHMENT_TOO_LARGE,
    NO_CREDENTIAL,
    NOT_A_CREDENTIAL,
    TOO_DEEP,
)
from apcert.register import search as register_search
from apcert.register import selectors
from apcert.register.status_words import StatusWords, status_words
from apcert.register.templatetags.register_tags import plain_day
from apcert.statuslists import bitstring
from apcert.statuslists.choices import StatusPurpose
from apcert.statuslists.models import StatusList

#: The largest file or pasted credential the page reads (a certificate PDF is ~100 KB).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
#: The answers that refuse what was sent as beyond what the page reads (a 400, not a
#: verdict on a credential).
REFUSED_CODES = frozenset({TOO_DEEP, ATTACHMENT_TOO_LARGE})
RECEIPT_SUBJECT_TYPE = "IECQCertificateStatusOnDate"


@dataclass
class NumberAnswer:
    """What the register says of one certificate number (and issue)."""

    number: str
    found: bool
    #: ``current``, ``suspended``, ``withdrawn``, ``cancelled``, ``expired``; "" if not found.
    state: str = ""
    ok: bool = False
    headline: str = ""
    details: list[str] = field(default_factory=list)
    issue_note: str = ""
    issue_ok: bool = True
    suggestions: list[str] = field(default_factory=list)
    certificate: Certificate | None = None


def certificate_words(certificate: Certificate, *, today: dt.date) -> StatusWords:
    """A public certificate's status on ``today`` in words: what the calendar alone has done
    counts from its date, whether or not the daily sweep has recorded it yet."""
    changes = selectors.status_changes_of(certificate)
    return status_words(
        certificate_status_on(certificate, today),
        recorded_reason=changes[-1].reason_category if changes else None,
    )


def number_answer(number: str, issue_number: int | None, *, today: dt.date) -> NumberAnswer:
    """The plain-words answer for a certificate number and, if given, one of its issues;
    for an unknown number, the public numbers close to it."""
    asked = number.strip()[:80]
    certificate = selectors.public_certificate(asked) if asked else None
    if certificate is None:
        suggestions = register_search.close_numbers(asked, limit=5) if asked else []
        return NumberAnswer(
            number=asked,
            found=False,
            headline="No such certificate",
            details=[f"The public register has no certificate {asked!r}."],
            suggestions=[s for s in suggestions if s != asked],
        )
    words = certificate_words(certificate, today=today)
    state, headline, ok = words.state, words.headline, words.ok
    issues = selectors.issues_of(certificate)
    latest = issues[-1]
    holder = selectors.holder_of(latest)
    details = [
        f"Certificate {certificate.number}, held by {holder['name']} ({holder['country']}), "
        # A CB's name may end with its own full stop ("Co., Ltd.").
        f"issued by {certificate.cb.code} {certificate.cb.name.rstrip('.')}."
    ]
    if state == CertificateStatus.CURRENT:
        details.append(f"It is valid until {plain_day(certificate.expires_on)}.")
    elif state == CertificateStatus.SUSPENDED:
        details.append("It must not be relied on while it is suspended; it may be restored.")
    answer = NumberAnswer(
        number=certificate.number,
        found=True,
        state=state,
        ok=ok,
        headline=headline,
        details=details,
        certificate=certificate,
    )
    if issue_number is not None:
        by_number = {issue.issue_number: issue for issue in issues}
        asked_issue = by_number.get(issue_number)
        if asked_issue is None:
            answer.issue_ok = False
            answer.issue_note = (
                f"This certificate has no issue {issue_number}: its latest issue is "
                f"{latest.issue_number}."
            )
        elif asked_issue.issue_number == latest.issue_number:
            answer.issue_note = (
                f"Issue {issue_number} is the current issue (issued "
                f"{plain_day(asked_issue.issued_on)})."
            )
        else:
            following = by_number.get(issue_number + 1, latest)
            answer.issue_ok = False
            answer.issue_note = (
                f"Issue {issue_number} was superseded by issue {following.issue_number} on "
                f"{plain_day(following.issued_on)}; the current issue is {latest.issue_number}."
            )
    return answer


# --- a signed credential ---------------------------------------------------------------------


@dataclass
class CredentialAnswer:
    """The verdict on a signed credential given to the page."""

    ok: bool
    headline: str
    details: list[str] = field(default_factory=list)
    #: The first failing check's code (or the reading error's); ``None`` when all hold.
    code: str | None = None
    result: VerificationResult | None = None
    record: NumberAnswer | None = None


def database_lookup(issuer_id: str | None) -> StatusLookup:
    """The bits of this register's own status lists, read from the database. A list of
    another register, or of another CB than the credential's issuer, is not answered."""
    prefix = identifiers.site_url() + "/bodies/"

    def lookup(entry: StatusEntry) -> bool:
        rest = entry.list_url[len(prefix) :] if entry.list_url.startswith(prefix) else ""
        parts = rest.split("/")
        if len(parts) != 3 or parts[1] != "status" or parts[2] not in StatusPurpose.values:
            raise StatusUnavailable(
                f"the status list {entry.list_url} is not one of this register's"
            )
        code = unquote(parts[0])
        if identifiers.cb_did(code) != issuer_id or parts[2] != entry.purpose:
            raise StatusUnavailable(
                f"the status list {entry.list_url} is not the issuer's {entry.purpose} list"
            )
        status_list = StatusList.objects.filter(cb__code=code, purpose=entry.purpose).first()
        if status_list is None:
            return False  # no list made yet: nothing of the CB is suspended or revoked
        try:
            return bitstring.get(bytes(status_list.bits), entry.index)
        except IndexError:
            raise StatusUnavailable(f"index {entry.index} is outside the list") from None

    return lookup


def read_credential(data: bytes) -> object:
    """The credential in an uploaded file or pasted text: the one a PDF embeds, or JSON.
    :class:`DocumentError` with a sentence for people when there is none."""
    if b"%PDF-" in data[:1024] and not data.lstrip().startswith((b"{", b"[")):
        credential = extract_credential(data)
        if credential is None:
            raise DocumentError(
                "This PDF carries no signed credential: it was made before its "
                "certification body had a signing key, or by something else than the register. "
                "Check the certificate by its number instead.",
                code=NO_CREDENTIAL,
            )
        return credential
    try:
        return bounded_json.loads(data)
    except bounded_json.TooDeep as error:
        raise DocumentError(
            f"This is not a credential: its JSON is nested more than {error.limit} levels "
            "deep, and a credential is nested a few levels. Check that this is the "
            "certificate's PDF or its credential's JSON.",
            code=TOO_DEEP,
        ) from None
    except ValueError:  # not UTF-8, not JSON, or a number past any limit
        raise DocumentError(
            "This is neither a certificate PDF nor a credential's JSON.",
            code=NOT_A_CREDENTIAL,
        ) from None


def _failed(result: VerificationResult) -> str:
    return next((check.detail for check in result.checks if not check.ok), "")


#: The answer's code when the register's record says the certificate is not current.
_RECORD_CODES: dict[str, str] = {
    CertificateStatus.SUSPENDED: "status.suspended",
    CertificateStatus.WITHDRAWN: "status.revoked",
    CertificateStatus.CANCELLED: "status.revoked",
    CertificateStatus.EXPIRED: "credential.expired",
}


def credential_answer(data: bytes, *, today: dt.date) -> CredentialAnswer:
    """The page's verdict on the bytes of an uploaded file or a pasted credential."""
    try:
        credential = read_credential(data)
    except DocumentError as error:
        return CredentialAnswer(False, "No signed credential to check", [error.message], error.code)
    result = verify_credential(credential, trust=credential_selectors.trust_store())
    code = result.code
    if code == "issuer.unknown":
        return CredentialAnswer(
            False,
            "Unknown issuer",
            [
                f"It says it was issued by {result.issuer_id or '(nobody)'}, which is not a "
                "certification body of this register (nor the register itself). "
                "Nothing it says can be relied on here."
            ],
            code,
            result,
        )
    if not result.signature_valid:
        return CredentialAnswer(
            False,
            "Signature invalid",
            [f"The signature does not hold: {_failed(result)}.", "Do not rely on it."],
            code,
            result,
        )
    assert isinstance(credential, Mapping)
    subject: Mapping[str, Any] = result.subject or {}
    signer = result.issuer.name if result.issuer else ""
    if subject.get("type") == RECEIPT_SUBJECT_TYPE:
        was = "was current" if subject.get("current") is True else "was not current"
        return CredentialAnswer(
            True,
            "A genuine receipt of this register",
            [
                f"The register stated that certificate {subject.get('certificateNumber')} "
                f"{was} on {subject.get('date')} (checked at {subject.get('checkedAt')})."
            ],
            None,
            result,
        )
    result.checks.append(status_check(credential, database_lookup(issuer_id_of(credential))))
    number = str(subject.get("certificateNumber") or "")
    issue = subject.get("issueNumber")
    record = (
        number_answer(number, issue if isinstance(issue, int) else None, today=today)
        if number
        else None
    )
    details = [f"Signed by {signer}: the signature holds, nothing was changed after signing."]
    if record is not None and record.found and record.certificate is not None:
        cb_code = record.certificate.cb.code
        if identifiers.cb_did(cb_code) != result.issuer_id:
            # A genuine signature of one CB over a certificate number of another.
            details.append(
                f"But certificate {record.number} was issued by {cb_code}, not by the "
                "signer: do not rely on this credential."
            )
            return CredentialAnswer(False, "Not valid", details, "issuer.mismatch", result, record)
        # The register's record today is the answer, in the same words as by number: the
        # status lists wait for the daily sweep to record what dates alone decide, and the
        # credential's own validity dates are those of one issue, not of the certificate.
        details.extend(record.details)
        if record.issue_note:
            details.append(record.issue_note)
        ok = record.ok and record.issue_ok
        code = None if ok else _RECORD_CODES.get(record.state, "issue.not_current")
        return CredentialAnswer(ok, record.headline, details, code, result, record)
    codes = {check.code for check in result.checks if not check.ok}
    if "credential.expired" in codes:
        until = result.valid_until.date() if result.valid_until else None
        headline = f"Expired on {plain_day(until)}" if until else "Expired"
        return CredentialAnswer(False, headline, details, "credential.expired", result, record)
    if "status.revoked" in codes:
        headline = record.headline if record and record.state in ("withdrawn", "cancelled") else ""
        return CredentialAnswer(
            False, headline or "Withdrawn (revoked)", details, "status.revoked", result, record
        )
    if "status.suspended" in codes:
        headline = record.headline if record and record.state == "suspended" else ""
        return CredentialAnswer(
            False, headline or "Valid but suspended", details, "status.suspended", result, record
        )
    unknown = sorted(code for code in codes if code in UNKNOWN_CODES)
    if unknown and len(unknown) == len(codes):
        details.append(_failed(result).capitalize() + ".")
        return CredentialAnswer(
            False, "Genuine, but its status is unknown", details, unknown[0], result, record
        )
    if not result.valid:
        details.append(_failed(result).capitalize() + ".")
        return CredentialAnswer(False, "Not valid", details, result.code, result, record)
    return CredentialAnswer(True, "Valid and current", details, None, result, record)
