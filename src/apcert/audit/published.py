"""The audit chain head published outside the database.

A backup restored in place of a newer database silently undoes every change made since,
and the restored chain verifies: it is whole, only shorter. What shows the loss is a record
of the head kept where a restore cannot reach it. The register publishes the head on every
read (``/register/audit-head.json``), and backups, restores and the worker keep it in a
file (``settings.AUDIT_HEAD_FILE``). The file only moves forward: a head behind it, or at
the same place with another hash, is not written over it, so a rollback stays visible until
a restore that accepts it says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from apcert.audit.chain import GENESIS_HASH, format_time
from apcert.audit.models import AuditChainHead, AuditEvent

_HASH = re.compile(r"[0-9a-f]{64}")


class HeadFormatError(ValueError):
    """A published head that cannot be read: the message says what is wrong with it."""


@dataclasses.dataclass(frozen=True)
class PublishedHead:
    """The chain's last event: its place (0 for an empty chain), its hash, and when seen."""

    seq: int
    hash: str
    at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": self.at}

    def __str__(self) -> str:
        return f"#{self.seq} ({self.hash[:16]}...)"


def audit_head_current() -> PublishedHead:
    """The head of the chain in the database now, dated now."""
    row = AuditChainHead.objects.filter(id=1).values_list("last_seq", "last_hash").first()
    seq, digest = row if row is not None else (0, GENESIS_HASH)
    return PublishedHead(seq=int(seq), hash=str(digest), at=format_time(timezone.now()))


def head_parse(raw: bytes | str, *, source: str) -> PublishedHead:
    """A head from its JSON (``{"seq": ..., "hash": ..., "at": ...}``), or HeadFormatError."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise HeadFormatError(f"{source} is not JSON") from None
    if not isinstance(data, dict):
        raise HeadFormatError(f"{source} is not a JSON object")
    seq, digest, at = data.get("seq"), data.get("hash"), data.get("at", "")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise HeadFormatError(f"{source}: 'seq' must be a whole number of 0 or more")
    if not isinstance(digest, str) or not _HASH.fullmatch(digest):
        raise HeadFormatError(f"{source}: 'hash' must be 64 lower-case hexadecimal digits")
    return PublishedHead(seq=seq, hash=digest, at=at if isinstance(at, str) else "")


def head_file_path() -> Path:
    return Path(settings.AUDIT_HEAD_FILE)


def head_file_read(path: Path | None = None) -> PublishedHead | None:
    """The head kept in the file, or None when there is no file yet."""
    path = path or head_file_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise HeadFormatError(f"the head file {path} cannot be read ({error})") from None
    return head_parse(raw, source=f"the head file {path}")


def head_file_write(
    head: PublishedHead,
    *,
    path: Path | None = None,
    force: bool = False,
    hash_at: Callable[[int], str | None] | None = None,
) -> bool:
    """Keep ``head`` in the file, written whole under a temporary name and renamed.

    Written only when it is at or beyond what the file holds on the same chain, unless
    ``force`` (a restore that accepted a rollback). "The same chain": the same hash at the
    same place, and, when ``hash_at`` (the hash of the event at a place in the chain ``head``
    ends) is given, the file's head is an event of that chain. Returns whether it was
    written; False means the file holds a head this one would roll back or fork."""
    path = path or head_file_path()
    known = head_file_read(path)
    if not force and known is not None:
        behind = head.seq < known.seq
        forked = head.seq == known.seq and head.hash != known.hash
        if not (behind or forked) and known.seq and head.seq > known.seq and hash_at:
            forked = hash_at(known.seq) != known.hash
        if behind or forked:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(head.as_json(), out)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def audit_head_publish() -> tuple[PublishedHead, bool]:
    """Keep the database's head in the file (the worker calls this at every check)."""
    head = audit_head_current()
    return head, head_file_write(head, hash_at=audit_hash_at)


def audit_hash_at(seq: int) -> str | None:
    """The hash of the event at ``seq`` in the database's chain (None past its end)."""
    if seq == 0:
        return GENESIS_HASH
    return AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
