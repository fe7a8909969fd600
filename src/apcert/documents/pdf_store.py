"""Certificate PDFs made once and kept, rather than made again for every download.

A PDF is a function of the issue's snapshot, its certificate's number, CB and scheme, the
signed credential it embeds, the address its QR code gives, the status mark printed across
it (the status today) and the code that draws it. All of these are hashed into the file's
name, so a kept file is served only while every one of them is unchanged: a new status, a
credential signed again with a new key, a renamed CB or a new version of apcert each make a
new file, and the one it replaces is removed. There is at most one file per issue.

Files are written to a temporary name and renamed into place, so a process that dies while
writing leaves no partial PDF to be served. A store that cannot be written (a full disk, no
permission) is not an error for the reader: the PDF made for the request is served anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.forms.models import model_to_dict

from apcert.certificates.models import CertificateIssue
from apcert.documents import certificate_pdf

log = logging.getLogger(__name__)

#: The code that draws a PDF, hashed once per process: a new version draws anew.
_RENDERER = hashlib.sha256(Path(certificate_pdf.__file__).read_bytes()).hexdigest()


def _digest(issue: CertificateIssue, inputs: dict[str, Any]) -> str:
    cert = issue.certificate
    facts = {
        "renderer": _RENDERER,
        "issue": model_to_dict(issue),
        "certificate": [cert.number, cert.cb.code, cert.cb.name, cert.cb.country],
        "scheme": [cert.scheme.code, cert.scheme.name],
        **inputs,
    }
    text = json.dumps(facts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class DrawingBusy(Exception):
    """Every drawing slot of this process is taken: the PDF is not kept and cannot be drawn
    now (drawing takes a core for a tenth of a second; the other pages must keep theirs)."""


_drawing_lock = threading.Lock()
_drawing = 0


def _take_drawing_slot() -> bool:
    global _drawing
    with _drawing_lock:
        size = settings.PDF_DRAWS_AT_ONCE
        if size and _drawing >= size:
            return False
        _drawing += 1
        return True


def _give_back_drawing_slot() -> None:
    global _drawing
    with _drawing_lock:
        _drawing -= 1


def kept_pdf(issue: CertificateIssue, inputs: dict[str, Any], render: Callable[[], bytes]) -> bytes:
    """The PDF of ``issue`` drawn from ``inputs`` (everything else it shows besides the issue
    and its certificate): the kept file when one was drawn from the same facts, else
    ``render()``, kept for the next reader. Raises :class:`DrawingBusy` when the PDF must be
    drawn and this process already draws ``PDF_DRAWS_AT_ONCE`` of them."""
    folder = Path(settings.DOCUMENT_PDF_DIR) / f"{issue.pk % 1000:03d}"
    path = folder / f"{issue.pk}-{_digest(issue, inputs)}.pdf"
    try:
        return path.read_bytes()
    except OSError:
        pass
    if not _take_drawing_slot():
        raise DrawingBusy
    try:
        content = render()
    finally:
        _give_back_drawing_slot()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.part"
        partial.write_bytes(content)
        os.replace(partial, path)
        for old in folder.glob(f"{issue.pk}-*.pdf"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("the certificate PDF of issue %s could not be kept: %s", issue.pk, exc)
    return content
