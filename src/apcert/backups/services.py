"""Taking a backup and restoring one (``apcert backup``, ``apcert restore``).

A backup holds the database (which holds the evidence files too) and, only when asked, the
signing keys. A restore checks the file whole before touching anything, refuses to write
over a database that holds records unless forced, refuses a backup older than any head of
the audit chain already seen (a rollback) unless that loss is accepted, restores, and runs
the checks that prove the result: the audit chain, the search index, the visit schedule.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

import apcert
from apcert.audit.chain import format_time
from apcert.audit.published import (
    HeadFormatError,
    PublishedHead,
    head_file_path,
    head_file_read,
    head_file_write,
    head_parse,
)
from apcert.backups.archive import Manifest, archive_open, archive_write, file_digest
from apcert.backups.engines import (
    ChainFacts,
    Progress,
    database_chain_facts,
    database_is_empty,
    engine_for,
)
from apcert.backups.errors import BackupFileError, BackupRefused, RollbackRefused

Say = Callable[[str], None]

#: The seconds a restore waits for a published head over HTTP.
FETCH_TIMEOUT = 15


@dataclasses.dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    #: Why the chain head was not kept in the head file (None: it was).
    head_file_problem: str | None


def backup_take(*, destination: Path, include_keys: bool, progress: Progress) -> BackupResult:
    """Write a backup of the database (and the signing keys when ``include_keys``) to
    ``destination``, then keep its chain head in the head file."""
    engine = engine_for()
    if destination.exists() and not destination.is_file():
        raise BackupRefused(f"{destination} exists and is not a file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(
        prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent
    ) as work:
        dump = Path(work) / engine.member_name
        taken_at = format_time(timezone.now())
        seq, digest = engine.dump(dump, progress)
        files = {engine.member_name: dump}
        if include_keys:
            files.update(_key_files())
        members = tuple(
            dataclasses.replace(file_digest(path), name=name) for name, path in files.items()
        )
        manifest = Manifest(
            apcert_version=apcert.__version__,
            database=engine.kind,
            taken_at=taken_at,
            head_seq=seq,
            head_hash=digest,
            members=members,
        )
        archive_write(destination, manifest=manifest, files=files)
    problem = None
    try:
        if not head_file_write(PublishedHead(seq=seq, hash=digest, at=taken_at)):
            problem = (
                f"{head_file_path()} holds a head beyond or beside this database's "
                f"(#{seq}): has the database been rolled back? The file was left as it is."
            )
    except (OSError, HeadFormatError) as error:
        problem = f"the audit chain head could not be kept in {head_file_path()}: {error}"
    return BackupResult(path=destination, manifest=manifest, head_file_problem=problem)


def _key_files() -> dict[str, Path]:
    key_dir = Path(settings.KEY_DIR)
    if not key_dir.is_dir():
        return {}
    return {
        "keys/" + path.relative_to(key_dir).as_posix(): path
        for path in sorted(key_dir.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


# --- restore -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class KnownHead:
    """A head of the chain seen before this restore, and where it was seen."""

    source: str
    head: PublishedHead


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    said: str


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    rollbacks: tuple[str, ...]
    checks: tuple[CheckOutcome, ...]
    keys_restored: int

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def published_head_read(where: str) -> PublishedHead:
    """A head from a register's ``/register/audit-head.json`` (an http(s) URL) or a file."""
    scheme = urllib.parse.urlsplit(where).scheme
    try:
        if scheme in {"http", "https"}:
            with urllib.request.urlopen(where, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310
                raw = answer.read(64 * 1024)
        elif scheme in {"", "file"}:
            raw = Path(urllib.parse.urlsplit(where).path if scheme else where).read_bytes()
        else:
            raise BackupRefused(f"--published-head: {where} is neither an http(s) URL nor a file")
    except OSError as error:
        raise BackupRefused(f"--published-head: {where} could not be read ({error})") from None
    try:
        return head_parse(raw, source=where)
    except HeadFormatError as error:
        raise BackupRefused(f"--published-head: {error}") from None


def _rollback(known: KnownHead, facts: ChainFacts) -> str | None:
    """Why restoring a chain with ``facts`` would undo what ``known`` saw, or None."""
    head = known.head
    if head.seq > facts.end_seq:
        lost = head.seq - facts.end_seq
        return (
            f"the {known.source} is at event #{head.seq}, the backup ends at "
            f"#{facts.end_seq}: {lost} event{'s' if lost != 1 else ''} would be lost"
        )
    if facts.hashes.get(head.seq) != head.hash:
        return (
            f"the {known.source} has event #{head.seq} with hash {head.hash[:16]}..., the "
            "backup has another at that place: it is a different history"
        )
    return None


def backup_restore(
    *,
    source: Path,
    force: bool,
    accept_rollback: bool,
    published_head: str | None,
    restore_keys: bool,
    progress: Progress,
    say: Say,
) -> RestoreResult:
    """Restore ``source`` into the database apcert is connected to (see the module)."""
    with archive_open(source) as (manifest, unpacked):
        engine = engine_for()
        if manifest.database != engine.kind:
            raise BackupRefused(
                f"the backup is of a {manifest.database} database; apcert is set up on "
                f"{engine.kind} (DATABASE_URL): restore it on the same kind of database"
            )
        if manifest.apcert_version != apcert.__version__:
            say(
                f"note: the backup was taken by apcert {manifest.apcert_version}, this is "
                f"{apcert.__version__}; run `apcert migrate` after the restore"
            )
        dump = unpacked / engine.member_name

        known: list[KnownHead] = []
        if published_head:
            fetched = published_head_read(published_head)
            known.append(KnownHead(f"published head ({published_head})", fetched))
        try:
            from_file = head_file_read()
        except HeadFormatError as error:
            raise BackupRefused(f"{error}; move it aside to restore without it") from None
        if from_file is not None:
            known.append(KnownHead(f"head file {head_file_path()}", from_file))
        if not database_is_empty():
            if not force:
                raise BackupRefused(
                    "the database is not empty (it holds records): pass --force to "
                    "write the backup over it"
                )
            live = database_chain_facts(())
            if live is not None:
                known.append(
                    KnownHead(
                        "database being replaced",
                        PublishedHead(seq=live.end_seq, hash=live.end_hash),
                    )
                )

        facts = engine.chain_facts(dump, [k.head.seq for k in known])
        if (facts.end_seq, facts.end_hash) != (manifest.head_seq, manifest.head_hash):
            raise BackupFileError(
                f"the backup's manifest says its chain ends at #{manifest.head_seq}, the "
                f"database in it ends at #{facts.end_seq}: the file was altered"
            )
        rollbacks = tuple(r for k in known if (r := _rollback(k, facts)) is not None)
        if rollbacks and not accept_rollback:
            lost = max(k.head.seq for k in known) - facts.end_seq
            loss = (
                f"knowing {lost} event{'s' if lost != 1 else ''} are lost"
                if lost > 0
                else "knowing the history it replaces is lost"
            )
            raise RollbackRefused(
                "this backup is older than the published head of the audit chain, or not on "
                "it: restoring it is a rollback: "
                + "; ".join(rollbacks)
                + f". Pass --accept-rollback to restore it anyway, {loss}."
            )
        for reason in rollbacks:
            say(f"ROLLBACK ACCEPTED: {reason}")

        engine.load(dump, progress)
        connection.close()
        keys = _keys_restore(manifest, unpacked, say) if restore_keys else 0
        if manifest.key_members and not restore_keys:
            say(
                f"the backup holds {len(manifest.key_members)} signing key file(s); they were "
                "not restored (pass --restore-keys to restore them)"
            )

    head = PublishedHead(seq=facts.end_seq, hash=facts.end_hash, at=format_time(timezone.now()))
    try:
        head_file_write(head, force=bool(rollbacks))
    except OSError as error:
        say(f"WARNING: the restored head could not be kept in {head_file_path()}: {error}")
    return RestoreResult(
        manifest=manifest, rollbacks=rollbacks, checks=restore_checks(), keys_restored=keys
    )


def _keys_restore(manifest: Manifest, unpacked: Path, say: Say) -> int:
    """Put the backup's key files in KEY_DIR: a missing file is written (mode 0600); one
    already there is kept, and named if it differs from the backup's."""
    key_dir = Path(settings.KEY_DIR)
    restored = 0
    for member in manifest.key_members:
        relative = member.name.removeprefix("keys/")
        target = key_dir / relative
        source = unpacked / member.name
        if target.exists():
            if target.read_bytes() != source.read_bytes():
                say(f"kept {target}: it differs from the backup's copy, which was not written")
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(source.read_bytes())
        restored += 1
    return restored


#: The checks run after a restore: a name, and the command with its arguments.
RESTORE_CHECKS = (
    ("audit verify", ("audit", "verify", "--quiet")),
    ("reindex --check", ("reindex", "--check", "--quiet")),
    ("visits-check", ("visits-check",)),
)


def restore_checks() -> tuple[CheckOutcome, ...]:
    """Run each check's own command in this process and keep what it said."""
    outcomes = []
    for name, command in RESTORE_CHECKS:
        out = StringIO()
        try:
            call_command(*command, stdout=out, stderr=StringIO())
        except CommandError as error:
            said = "\n".join(filter(None, [out.getvalue().strip(), str(error)]))
            outcomes.append(CheckOutcome(name=name, ok=False, said=said))
        else:
            outcomes.append(CheckOutcome(name=name, ok=True, said=out.getvalue().strip()))
    return tuple(outcomes)
