"""Where evidence files are kept, and how they get there without half-written leftovers.

An evidence file's content is kept in the database, in :class:`EvidenceChunk` rows of
``EVIDENCE_CHUNK_BYTES`` each, written in the same transaction as its EvidenceFile row: every
app server reads every file, a backup of the database holds them all, and a file is never
without its row nor a row without its file. (Object storage would serve the first two as
well, but needs a service of its own to run and to test against.)

EVIDENCE_DIR is only where an upload is received, on the server that receives it::

    tmp/upload-<random>.part     an upload being received, counted, hashed and checked
                                 before a byte of it reaches the database

A ``.part`` file older than the longest upload is a leftover of a process that died
mid-upload (a refused or failed upload removes its own) and may be deleted. Files received
before the content moved to the database lay at ``<2 hex>/<32 hex>`` (the row's
``storage_key``); migration 0009 copied them in and left them for the operator to delete
(``apcert evidence-sweep`` lists them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Max, Sum
from django.db.models.functions import Length

from apcert.assessments.errors import EVIDENCE_EMPTY
from apcert.assessments.evidence.kinds import ContentCheck, EvidenceRefused, EvidenceTooLarge
from apcert.assessments.models import EvidenceChunk, EvidenceFile

log = logging.getLogger(__name__)

_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")
TEMP_DIR_NAME = "tmp"
#: The size of each stored piece of a file: what receiving or serving one holds in memory
#: at a time (twice at most), and few enough rows that a file of the largest size is a
#: few dozen of them.
EVIDENCE_CHUNK_BYTES = 1024 * 1024


class EvidenceFileDamaged(RuntimeError):
    """The stored content of an evidence file is missing, or does not add up to the size or
    the digest its row records: an operator's problem (restore it from backup), not the
    user's."""


def evidence_root() -> Path:
    """EVIDENCE_DIR, where uploads are received, after making sure it is not, nor holds, nor
    lies under a served path."""
    root = Path(settings.EVIDENCE_DIR).resolve()
    for setting in ("STATIC_ROOT", "MEDIA_ROOT"):
        value = getattr(settings, setting, None)
        if not value:
            continue
        served = Path(value).resolve()
        if root == served or root.is_relative_to(served) or served.is_relative_to(root):
            raise ImproperlyConfigured(
                f"EVIDENCE_DIR ({root}) overlaps {setting} ({served}): evidence is private "
                "and must be kept apart from anything the web server serves."
            )
    return root


def new_key() -> str:
    token = uuid.uuid4().hex
    return f"{token[:2]}/{token}"


def _too_large(limit: int) -> EvidenceTooLarge:
    return EvidenceTooLarge(
        f"The file is larger than {human_size(limit)}, the most accepted for one evidence "
        "file. Split it, or reduce it (a lower image resolution, a compressed PDF).",
        field="file",
        params={"limit_bytes": limit},
    )


def human_size(n: int) -> str:
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.4g} {unit}"
    return f"{n} bytes"


def check_declared_size(upload: UploadedFile, limit: int) -> None:
    """Refuse on the size the upload declares, before reading a byte of it."""
    if upload.size is not None and upload.size > limit:
        raise _too_large(limit)
    if upload.size == 0:
        raise _empty()


def _empty() -> EvidenceRefused:
    return EvidenceRefused("The file is empty.", code=EVIDENCE_EMPTY, field="file")


@dataclass(frozen=True)
class Received:
    """An upload received whole into a temporary file, counted, hashed and checked."""

    temp: Path
    size: int
    sha256: str


def receive(upload: UploadedFile, *, root: Path, limit: int, check: ContentCheck) -> Received:
    """Stream ``upload`` into a new temporary file under ``root``, hashing and checking it
    chunk by chunk (the whole file is never in memory). On any refusal or error the
    temporary file is removed before the exception leaves."""
    # Readable by apcert's user only, like every file in it (mkstemp makes them 0600).
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp_dir = root / TEMP_DIR_NAME
    temp_dir.mkdir(mode=0o700, exist_ok=True)
    # mkstemp: a new name, opened O_EXCL.
    fd, temp_name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=temp_dir)
    temp = Path(temp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                digest.update(chunk)
                check.feed(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise _empty()
        check.finish(temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Received(temp=temp, size=size, sha256=digest.hexdigest())


def write_chunks(*, evidence: EvidenceFile, received: Received) -> None:
    """Copy a received file into the database as ``evidence``'s chunks, one chunk in memory
    at a time. Called inside the transaction that writes the row: both commit, or neither."""
    with received.temp.open("rb") as source:
        index = 0
        while piece := source.read(EVIDENCE_CHUNK_BYTES):
            EvidenceChunk.objects.create(evidence=evidence, index=index, data=piece)
            index += 1


def chunk_count(size: int) -> int:
    return -(-size // EVIDENCE_CHUNK_BYTES)


def check_stored(evidence: EvidenceFile) -> None:
    """Refuse, before a byte is served, a file whose chunks do not add up to its row: some
    missing, or not of the recorded size in all. One query, which reads the chunks' lengths,
    not their content."""
    found = EvidenceChunk.objects.filter(evidence_id=evidence.pk).aggregate(
        count=Count("index"), last=Max("index"), size=Sum(Length("data"))
    )
    expected = chunk_count(evidence.size)
    if found["count"] != expected or found["last"] != expected - 1:
        raise EvidenceFileDamaged(
            f"Evidence file {evidence.pk} has {found['count']} stored chunk(s) of "
            f"{expected}: restore its content from a backup."
        )
    if found["size"] != evidence.size:
        raise EvidenceFileDamaged(
            f"Evidence file {evidence.pk} is {found['size']} bytes stored, its record says "
            f"{evidence.size}: restore its content from a backup."
        )


def keys_stored_whole() -> set[str]:
    """The storage keys of the files whose chunks in the database add up to their record
    (all there, of the recorded size in all): a copy of one kept elsewhere is not needed."""
    rows = (
        EvidenceFile.objects.filter(chunks__isnull=False)
        .annotate(count=Count("chunks"), stored=Sum(Length("chunks__data")))
        .values_list("storage_key", "size", "count", "stored")
    )
    return {
        key for key, size, count, stored in rows if (count, stored) == (chunk_count(size), size)
    }


def read_chunks(evidence: EvidenceFile) -> Iterator[bytes]:
    """The content of ``evidence``, a chunk at a time, each read by a query of its own when
    it is asked for (a download of the largest file holds one chunk, not the file). Hashed
    as it goes: content whose digest is not the recorded one stops with
    :class:`EvidenceFileDamaged` before its last chunk is given out, so that a download that
    was sent its declared length was sent the file uploaded."""
    digest = hashlib.sha256()
    count = chunk_count(evidence.size)
    for index in range(count):
        piece = (
            EvidenceChunk.objects.filter(evidence_id=evidence.pk, index=index)
            .values_list("data", flat=True)
            .first()
        )
        if piece is None:
            raise _damaged(evidence, f"its chunk {index} is missing")
        piece = bytes(piece)  # PostgreSQL gives a memoryview
        digest.update(piece)
        if index == count - 1 and digest.hexdigest() != evidence.sha256:
            raise _damaged(evidence, "its stored content is not what was uploaded (SHA-256)")
        yield piece


def _damaged(evidence: EvidenceFile, what: str) -> EvidenceFileDamaged:
    message = f"Evidence file {evidence.pk}: {what}; restore its content from a backup."
    # Raised while the download is being sent: the client sees a short body; say it here.
    log.error("%s", message)
    return EvidenceFileDamaged(message)


@dataclass(frozen=True)
class Leftover:
    """A file under EVIDENCE_DIR that nothing needs: an upload a dead process left half
    received; a file kept there before content moved to the database, now copied into it;
    or a file so kept that no EvidenceFile row names."""

    path: Path
    kind: str  # "partial upload", "moved to the database" or "unreferenced file"
    size: int


def leftovers(
    *, root: Path, known_keys: set[str], moved_keys: set[str], older_than: float
) -> tuple[list[Leftover], list[Path]]:
    """The leftovers under ``root`` last written before ``older_than`` (a POSIX time), so
    that an upload being received is never among them; and, apart, the files kept there the
    old way whose row has no content in the database (never a leftover: the one copy)."""
    found: list[Leftover] = []
    not_moved: list[Path] = []
    if not root.is_dir():
        return found, not_moved
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(root).as_posix()
        if _KEY.fullmatch(relative) and relative in known_keys and relative not in moved_keys:
            not_moved.append(path)
            continue
        info = path.stat()
        if info.st_mtime >= older_than:
            continue
        if relative.startswith(TEMP_DIR_NAME + "/") and path.suffix == ".part":
            found.append(Leftover(path, "partial upload", info.st_size))
        elif _KEY.fullmatch(relative):
            kind = "moved to the database" if relative in moved_keys else "unreferenced file"
            found.append(Leftover(path, kind, info.st_size))
    return found, not_moved
