"""The signed credential inside a certificate PDF: its file name, and reading it back.

The credential (a W3C verifiable credential, signed by the register) travels inside the PDF
as an embedded file, so that whoever holds the PDF holds something that verifies offline,
and a reader with no special tool sees it among the PDF's attachments.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from apcert.core import bounded_json
from apcert.documents.errors import (
    ATTACHMENT_TOO_LARGE,
    CREDENTIAL_UNREADABLE,
    DAMAGED_PDF,
    NOT_A_PDF,
    TOO_DEEP,
    DocumentError,
)

#: The attachment's media type (the W3C Verifiable Credentials JSON-LD media type).
CREDENTIAL_MEDIA_TYPE = "application/vc+ld+json"
#: How every credential attachment's name ends.
CREDENTIAL_SUFFIX = ".vc.json"
#: The PDF header must start within the first 1024 bytes (ISO 32000-1, 7.5.2).
_HEADER_WINDOW = 1024
#: The end-of-file marker must be in the last 1024 bytes (a truncated file lacks it).
_TRAILER_WINDOW = 1024
#: The largest embedded credential read back, inflated (a credential is a few KB; a
#: compressed attachment could otherwise inflate to tens of MB of JSON).
MAX_CREDENTIAL_BYTES = 1024 * 1024


def file_stem(number: str, issue_number: int) -> str:
    """``IECQ-A XX 26.0001``, issue 2 -> ``IECQ-A_XX_26.0001-issue-2``: safe as a file name
    on every system, and still readable."""
    safe = re.sub(r"[^A-Za-z0-9.-]+", "_", number).strip("_.") or "certificate"
    return f"{safe}-issue-{issue_number}"


def credential_filename(number: str, issue_number: int) -> str:
    return file_stem(number, issue_number) + CREDENTIAL_SUFFIX


def credential_bytes(credential: dict[str, Any]) -> bytes:
    """The credential as UTF-8 JSON, keys in their given order. A signature over the
    credential covers its canonical form, not these bytes, so the layout is free."""
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode()


def extract_credential(pdf: bytes) -> dict[str, Any] | None:
    """The signed credential embedded in a certificate PDF, as the dict that was embedded;
    ``None`` when the PDF is sound but carries no credential (one rendered without it).

    Raises :class:`DocumentError` with code ``document.not_a_pdf`` for bytes that are no
    PDF, ``document.damaged_pdf`` for a truncated or damaged PDF, and
    ``document.credential_unreadable`` when the attachment is there but is not a JSON
    object (a damaged attachment reads as such: pypdf hands on what it cannot inflate),
    ``document.attachment_too_large`` when it inflates past :data:`MAX_CREDENTIAL_BYTES` and
    ``document.too_deep`` when it nests deeper than any credential."""
    from pypdf import PdfReader

    if not isinstance(pdf, bytes | bytearray) or b"%PDF-" not in pdf[:_HEADER_WINDOW]:
        raise DocumentError("This file is not a PDF.", code=NOT_A_PDF)
    if b"%%EOF" not in pdf[-_TRAILER_WINDOW:]:
        raise DocumentError(
            "This PDF is incomplete (it does not end as a PDF ends): it was cut short.",
            code=DAMAGED_PDF,
        )
    try:
        reader = PdfReader(io.BytesIO(pdf))
        attachments = {name: list(contents) for name, contents in reader.attachments.items()}
    except Exception as error:  # pypdf raises many types on damaged input; all mean this
        raise DocumentError(
            "This PDF is damaged: its structure cannot be read.",
            code=DAMAGED_PDF,
            params={"detail": type(error).__name__},
        ) from error
    names = sorted(name for name in attachments if name.endswith(CREDENTIAL_SUFFIX))
    if not names:
        return None
    contents = attachments[names[0]]
    if contents and len(contents[0]) > MAX_CREDENTIAL_BYTES:
        raise DocumentError(
            f"The attachment {names[0]!r} is not a credential: it is larger than "
            f"{MAX_CREDENTIAL_BYTES // (1024 * 1024)} MB, and a credential is a few KB.",
            code=ATTACHMENT_TOO_LARGE,
        )
    try:
        value = bounded_json.loads(contents[0]) if contents else None
    except bounded_json.TooDeep as error:
        raise DocumentError(
            f"The attachment {names[0]!r} is not a credential: it is nested more than "
            f"{error.limit} levels deep, and a credential is nested a few levels.",
            code=TOO_DEEP,
        ) from None
    except ValueError as error:  # not UTF-8, not JSON, or a number past any limit
        raise DocumentError(
            f"The attachment {names[0]!r} cannot be read as a credential: it is damaged, "
            "or it is not JSON.",
            code=CREDENTIAL_UNREADABLE,
        ) from error
    if not isinstance(value, dict):
        raise DocumentError(
            f"The attachment {names[0]!r} is not a credential: it is not a JSON object.",
            code=CREDENTIAL_UNREADABLE,
        )
    return value
