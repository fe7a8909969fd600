"""The register's verification receipt, unsigned: "certificate X was current (or not) on
date D, as the register checked at time T".

A W3C VC 2.0 credential of type ``IECQVerificationReceipt`` issued by the register's own
``did:web:<host>`` (not by a CB), made from the register's as-of answer
(:func:`apcert.certificates.asof.certificate_as_of`), the one its "was it valid on" section
gives. Public fields only: number, date, status, reason category, issue and validity.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

from apcert.certificates.asof import AsOfAnswer
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_status_on
from apcert.certificates.timeline import StatusOnDay
from apcert.credentials import identifiers
from apcert.credentials.proofs import format_datetime

RECEIPT_TYPE = "IECQVerificationReceipt"
SUBJECT_TYPE = "IECQCertificateStatusOnDate"
REGISTER_NAME = "IECQ Approved Process public register"


def receipt_status(certificate: Certificate, on: dt.date) -> StatusOnDay | None:
    """The certificate's status on ``on`` from the one function of its facts and a date,
    for any day since its stored status took effect: what the calendar did by then counts
    whether or not the sweep has recorded it. ``None`` for an earlier day, which the status
    history answers (the sweep records each change with the date it took effect)."""
    if on < certificate.status_since:
        return None
    return certificate_status_on(certificate, on)


def build_receipt(
    answer: AsOfAnswer, *, checked_at: dt.datetime, status: StatusOnDay | None = None
) -> dict[str, Any]:
    """The unsigned receipt of ``answer``, checked at ``checked_at``; its status and reason
    from ``status`` when given (:func:`receipt_status`)."""
    checked = format_datetime(checked_at)
    number = answer.number
    current, status_value, reason = answer.current, answer.status, answer.reason
    if status is not None:
        status_value = status.status
        current = status_value == CertificateStatus.CURRENT
        if status.unrecorded:
            reason = status.reason_category
    return {
        "@context": [identifiers.VC_CONTEXT, identifiers.context_url()],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", RECEIPT_TYPE],
        "name": f"Verification receipt: certificate {number} on {answer.on.isoformat()}",
        "issuer": {"id": identifiers.register_did(), "name": REGISTER_NAME},
        "validFrom": checked,
        "credentialSubject": {
            "type": SUBJECT_TYPE,
            "certificateNumber": number,
            "certificate": f"{identifiers.site_url()}/certificates/{quote(number, safe='')}",
            "date": answer.on.isoformat(),
            "checkedAt": checked,
            "current": current,
            "status": status_value,
            "reasonCategory": reason,
            "issueNumber": answer.issue_number,
            "validUntil": answer.valid_until.isoformat() if answer.valid_until else None,
        },
    }
