"""Where evidence files are kept, and how they get there without half-written leftovers.

Layout under EVIDENCE_DIR::

    tmp/upload-<random>.part     an upload being received (same file system as the rest, so
                                 that moving it into place is atomic)
    <2 hex>/<32 hex>             a stored file; its name is the storage key, a random UUID
                                 apcert makes, sharded by its first two digits

Nothing here knows the client's file name. A ``.part`` file older than the longest upload is
a leftover of a process that died mid-upload (a refused or failed upload removes its own) and
may be deleted; so may a stored file that no EvidenceFile row names, which only a crash
between the rename and the commit can leave.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import UploadedFile

from apcert.assessments.errors import EVIDENCE_EMPTY
from apcert.assessments.evidence.kinds import ContentCheck, EvidenceRefused, EvidenceTooLarge

_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}")
TEMP_DIR_NAME = "tmp"


class EvidenceFileDamaged(RuntimeError):
    """A stored evidence file is missing or not the size its row records: an operator's
    problem (restore it from backup), not the user's."""


def evidence_root() -> Path:
    """EVIDENCE_DIR, after making sure it is not, nor holds, nor lies under a served path."""
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


def path_of(root: Path, key: str) -> Path:
    # The key comes from our own rows; still, never let a key that is not ours make a path.
    if not _KEY.fullmatch(key):
        raise EvidenceFileDamaged(f"{key!r} is not an evidence storage key.")
    return root / key


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


def place(received: Received, *, root: Path, key: str) -> Path:
    """Move a received file to its storage key, atomically and never over an existing file,
    then sync the directory, so that a committed row never names a file a crash lost."""
    final = path_of(root, key)
    final.parent.mkdir(mode=0o700, exist_ok=True)
    # A hard link never replaces an existing file (FileExistsError instead), so a key that
    # somehow exists already cannot clobber another row's file; the link is atomic too.
    try:
        os.link(received.temp, final)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: rename, having looked first (a new UUID key
        # cannot be in use, so the window between the look and the rename is theoretical).
        if final.exists():
            raise FileExistsError(final) from None
        os.replace(received.temp, final)
    try:
        received.temp.unlink(missing_ok=True)
        _fsync_dir(final.parent)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    return final


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be synced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_stored(key: str, size: int) -> BinaryIO:
    """Open a stored file for reading, refusing a symbolic link or a file of the wrong size."""
    path = path_of(evidence_root(), key)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise EvidenceFileDamaged(f"Evidence file {key} cannot be opened: {exc}.") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        os.close(fd)
        raise EvidenceFileDamaged(
            f"Evidence file {key} is {info.st_size} bytes, its record says {size}."
        )
    return os.fdopen(fd, "rb")


@dataclass(frozen=True)
class Leftover:
    """A file under EVIDENCE_DIR that nothing needs: an upload a dead process left half
    received, or a stored file no EvidenceFile row names."""

    path: Path
    kind: str  # "partial upload" or "unreferenced file"
    size: int


def leftovers(*, root: Path, known_keys: set[str], older_than: float) -> list[Leftover]:
    """The leftovers under ``root`` last written before ``older_than`` (a POSIX time), so
    that an upload being received, or a file stored by a transaction not yet committed, is
    never among them."""
    found: list[Leftover] = []
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        info = path.stat()
        if info.st_mtime >= older_than:
            continue
        relative = path.relative_to(root).as_posix()
        if relative.startswith(TEMP_DIR_NAME + "/") and path.suffix == ".part":
            found.append(Leftover(path, "partial upload", info.st_size))
        elif _KEY.fullmatch(relative) and relative not in known_keys:
            found.append(Leftover(path, "unreferenced file", info.st_size))
    return found
