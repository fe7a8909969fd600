"""The backup file: one tar archive whose first member is its manifest.

Layout (``tar tf`` lists it)::

    apcert-backup.json       the manifest: what, when, the audit chain head, checksums
    database.sqlite3         or database.pgdump (pg_dump's custom format)
    keys/...                 only when the backup was asked to include the signing keys

The manifest travels inside the file so that the two cannot be separated or mixed up, and
it comes first so that a restore reads it before anything else. It holds the SHA-256 and the
size of every other member: a file cut short or altered anywhere is refused before a byte of
it reaches the database. The archive is written under a temporary name beside its final one
and renamed when whole, so a backup that is killed leaves no file under the final name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from apcert.backups.errors import BackupFileError

MANIFEST_NAME = "apcert-backup.json"
FORMAT = "apcert-backup"
FORMAT_VERSION = 1
#: The database member's name for each database kind.
DATABASE_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
KEYS_PREFIX = "keys/"
_CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Member:
    """A file in the archive besides the manifest: its name, size and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a backup says about itself."""

    apcert_version: str
    database: str
    taken_at: str
    head_seq: int
    head_hash: str
    members: tuple[Member, ...]

    @property
    def database_member(self) -> Member:
        return next(m for m in self.members if m.name == DATABASE_MEMBERS[self.database])

    @property
    def key_members(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.name.startswith(KEYS_PREFIX))

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "apcert_version": self.apcert_version,
            "database": self.database,
            "taken_at": self.taken_at,
            "audit_head": {"seq": self.head_seq, "hash": self.head_hash},
            "members": [dataclasses.asdict(m) for m in self.members],
        }


def file_digest(path: Path) -> Member:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return Member(name=path.name, size=size, sha256=digest.hexdigest())


def archive_write(destination: Path, *, manifest: Manifest, files: dict[str, Path]) -> None:
    """Write the archive: the manifest, then ``files`` (member name -> file on disk), under
    a temporary name in ``destination``'s directory, flushed to disk, then renamed."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent
    )
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            body = json.dumps(manifest.as_json(), indent=2).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size = len(body)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(body))
            for name, path in files.items():
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with path.open("rb") as source:
                    tar.addfile(info, source)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _manifest_parse(raw: bytes, source: str) -> Manifest:
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise BackupFileError(f"{source} is not an apcert backup (its manifest is not one)")
        if data.get("format_version") != FORMAT_VERSION:
            raise BackupFileError(
                f"{source} is a backup of format version {data.get('format_version')!r}; "
                f"this apcert reads version {FORMAT_VERSION}"
            )
        members = tuple(
            Member(name=str(m["name"]), size=int(m["size"]), sha256=str(m["sha256"]))
            for m in data["members"]
        )
        manifest = Manifest(
            apcert_version=str(data["apcert_version"]),
            database=str(data["database"]),
            taken_at=str(data["taken_at"]),
            head_seq=int(data["audit_head"]["seq"]),
            head_hash=str(data["audit_head"]["hash"]),
            members=members,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupFileError(f"{source}: its manifest is damaged") from None
    for member in members:
        parts = Path(member.name).parts
        if (
            member.name.startswith("/")
            or ".." in parts
            or (
                member.name != DATABASE_MEMBERS.get(manifest.database)
                and not member.name.startswith(KEYS_PREFIX)
            )
        ):
            raise BackupFileError(f"{source}: its manifest lists an unexpected {member.name!r}")
    if manifest.database not in DATABASE_MEMBERS:
        raise BackupFileError(f"{source}: unknown database kind {manifest.database!r}")
    if not any(m.name == DATABASE_MEMBERS[manifest.database] for m in members):
        raise BackupFileError(f"{source}: its manifest lists no database")
    return manifest


def _copy_checked(source: Any, target: Path, member: Member, where: str) -> None:
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != member.size or digest.hexdigest() != member.sha256:
        raise BackupFileError(
            f"{where}: {member.name} does not match its checksum in the manifest: the file "
            "is damaged or was altered"
        )


@contextmanager
def archive_open(path: Path, *, work_dir: Path | None = None) -> Iterator[tuple[Manifest, Path]]:
    """The manifest and a directory holding every member, each checked against its size and
    SHA-256; the directory is removed on leaving. Any fault is a BackupFileError."""
    where = f"the backup {path}"
    if not path.is_file():
        raise BackupFileError(f"{where} does not exist or is not a file")
    unpacked = Path(tempfile.mkdtemp(prefix="apcert-restore-", dir=work_dir))
    try:
        try:
            with tarfile.open(path, mode="r:") as tar:
                first = tar.next()
                if first is None or first.name != MANIFEST_NAME or not first.isfile():
                    raise BackupFileError(f"{where} is not an apcert backup (no manifest first)")
                manifest_file = tar.extractfile(first)
                assert manifest_file is not None
                manifest = _manifest_parse(manifest_file.read(), where)
                expected = {m.name: m for m in manifest.members}
                seen: set[str] = set()
                for info in tar:
                    if info is first:
                        continue
                    member = expected.get(info.name)
                    if member is None or not info.isfile() or info.name in seen:
                        raise BackupFileError(
                            f"{where} holds {info.name!r}, which its manifest does not list"
                        )
                    seen.add(info.name)
                    target = unpacked / info.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    content = tar.extractfile(info)
                    assert content is not None
                    _copy_checked(content, target, member, where)
                missing = sorted(set(expected) - seen)
                if missing:
                    raise BackupFileError(
                        f"{where} is incomplete: {', '.join(missing)} missing (cut short?)"
                    )
        except (tarfile.TarError, EOFError) as error:
            raise BackupFileError(
                f"{where} is truncated or damaged ({error}); it cannot be restored"
            ) from None
        yield manifest, unpacked
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
