"""Certificate PDFs made once and kept, rather than made again for every download.

A PDF is a function of the issue's snapshot, its certificate's number, CB and scheme, the
signed credential it embeds, the address its QR code gives, the status mark printed across
it (the status today) and the code that draws it. All of these are hashed into the kept
PDF's digest, so a kept PDF is served only while every one of them is unchanged: a new
status, a credential signed again with a new key, a renamed CB or a new version of apcert
each draw it anew, and the new PDF replaces the kept one. There is at most one per issue.

Kept in the database (:class:`~apcert.register.models.KeptCertificatePdf`), so that a PDF
drawn by one app server is read by every other, and a restarted one; a row is written
whole or not at all. The read and the write both go to the default database by name: the
row just drawn must be read back by the next reader whatever a router sends elsewhere, and
a write never goes to a read-only copy. A PDF that cannot be kept (the database refuses the
write) is not an error for the reader: the PDF made for the request is served anyway.

A PDF is drawn in a process of the drawing pool when there is one
(:mod:`apcert.documents.drawing`), which reads the issue by its id as the register does and
draws it from the same inputs: the same PDF as one drawn here. A drawing that stops (its
process died, or it took too long) is answered as busy, and nothing of it is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from apcert.certificates.models import CertificateIssue
from apcert.documents import certificate_pdf, drawing
from apcert.register.models import KeptCertificatePdf

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


def kept_pdf(issue: CertificateIssue, inputs: dict[str, Any]) -> bytes:
    """The PDF of ``issue`` drawn from ``inputs`` (the keyword arguments of
    :func:`~apcert.documents.certificate_pdf.render_certificate_pdf`: everything it shows
    besides the issue and its certificate): the kept one when it was drawn from the same
    facts, else drawn now and kept for the next reader. Raises :class:`DrawingBusy` when the
    PDF must be drawn and this process already draws ``PDF_DRAWS_AT_ONCE`` of them, or when
    its drawing process stopped before it was drawn."""
    digest = _digest(issue, inputs)
    kept = (
        KeptCertificatePdf.objects.using(DEFAULT_DB_ALIAS)
        .filter(issue_id=issue.pk, digest=digest)
        .values_list("content", flat=True)
        .first()
    )
    if kept is not None:
        return bytes(kept)  # PostgreSQL gives a memoryview
    if not _take_drawing_slot():
        raise DrawingBusy
    try:
        content = _draw(issue, inputs)
    finally:
        _give_back_drawing_slot()
    _keep(issue, digest, content)
    return content


def _draw(issue: CertificateIssue, inputs: dict[str, Any]) -> bytes:
    if not drawing.in_processes():
        return certificate_pdf.render_certificate_pdf(issue, **inputs)
    try:
        return drawing.draw(draw_issue, issue.pk, inputs).content
    except drawing.DrawingStopped as exc:
        log.warning("the certificate PDF of issue %s was not drawn: %s", issue.pk, exc)
        raise DrawingBusy from exc


def draw_issue(issue_id: int, inputs: dict[str, Any]) -> bytes:
    """In a drawing process: the issue ``issue_id``, read with its certificate, CB and
    scheme as the register reads it, drawn from ``inputs``."""
    issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        pk=issue_id
    )
    return certificate_pdf.render_certificate_pdf(issue, **inputs)


def _keep(issue: CertificateIssue, digest: str, content: bytes) -> None:
    try:
        # A savepoint when the caller holds a transaction: a refused write leaves it usable.
        with transaction.atomic(using=DEFAULT_DB_ALIAS):
            KeptCertificatePdf.objects.using(DEFAULT_DB_ALIAS).update_or_create(
                issue_id=issue.pk,
                defaults={"digest": digest, "content": content, "drawn_at": timezone.now()},
            )
    except IntegrityError:
        # Another server kept the same issue's PDF at the same moment: one of them is kept.
        log.info("the certificate PDF of issue %s was kept by another request", issue.pk)
    except DatabaseError as exc:
        log.warning("the certificate PDF of issue %s could not be kept: %s", issue.pk, exc)
