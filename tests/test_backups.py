"""Backups and restores: the file is checked whole, a rollback is refused, the head is published.

The round trip of a real SQLite database is in test_backups_sqlite.py; the round trip on
PostgreSQL is the last test here.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client

from apcert.audit.chain import GENESIS_HASH
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.audit.published import (
    PublishedHead,
    audit_head_publish,
    head_file_read,
    head_file_write,
)
from apcert.audit.services import audit_record
from apcert.backups import engines, services
from apcert.backups.archive import (
    DATABASE_MEMBERS,
    Manifest,
    archive_open,
    archive_write,
    file_digest,
)
from apcert.backups.engines import ChainFacts, database_kind
from apcert.backups.errors import BackupFileError, BackupRefused
from apcert.backups.management.commands import restore as restore_command
from apcert.backups.services import KnownHead, published_head_read
from apcert.register.models import SearchEntry
from tests.factories import World

HASH_A = "a" * 64
HASH_B = "b" * 64


@pytest.fixture(autouse=True)
def _head_file(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.AUDIT_HEAD_FILE = tmp_path / "published" / "audit-head.json"
    settings.KEY_DIR = tmp_path / "keys"
    return Path(settings.AUDIT_HEAD_FILE)


def _archive(tmp_path: Path, *, kind: str | None = None, payload: bytes = b"x" * 5000) -> Path:
    """A backup file holding ``payload`` as its database (for the checks of the file)."""
    kind = kind or database_kind()
    member = engines.engine_for(kind).member_name
    dump = tmp_path / "payload"
    dump.write_bytes(payload)
    manifest = Manifest(
        apcert_version="0.1.0",
        database=kind,
        taken_at="2026-01-01T00:00:00.000000+00:00",
        head_seq=1,
        head_hash=HASH_A,
        members=(dataclasses.replace(file_digest(dump), name=member),),
    )
    destination = tmp_path / "made.apcert-backup"
    archive_write(destination, manifest=manifest, files={member: dump})
    return destination


# --- the file --------------------------------------------------------------------------------


def test_a_whole_archive_opens_with_its_manifest_and_members(tmp_path: Path) -> None:
    path = _archive(tmp_path, kind="sqlite", payload=b"database bytes")
    with archive_open(path) as (manifest, unpacked):
        assert (manifest.database, manifest.head_seq, manifest.head_hash) == ("sqlite", 1, HASH_A)
        assert (unpacked / "database.sqlite3").read_bytes() == b"database bytes"
    assert not unpacked.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_an_altered_archive_is_refused_by_its_checksum(tmp_path: Path) -> None:
    path = _archive(tmp_path, payload=b"y" * 5000)
    raw = bytearray(path.read_bytes())
    place = raw.index(b"y" * 100) + 50
    raw[place] = ord("z")
    path.write_bytes(bytes(raw))
    with pytest.raises(BackupFileError, match="does not match its checksum"), archive_open(path):
        pass


@pytest.mark.parametrize("keep", [700, 2000, 4000])
def test_a_truncated_archive_is_refused(tmp_path: Path, keep: int) -> None:
    path = _archive(tmp_path)
    path.write_bytes(path.read_bytes()[:keep])
    with (
        pytest.raises(BackupFileError, match=r"truncated or damaged|incomplete|checksum"),
        archive_open(path),
    ):
        pass


def test_a_file_that_is_not_a_backup_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(BackupFileError, match="truncated or damaged"), archive_open(path):
        pass
    with pytest.raises(BackupFileError, match="does not exist"), archive_open(tmp_path / "no"):
        pass


def test_a_backup_that_fails_midway_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing:
        kind = database_kind()
        member_name = DATABASE_MEMBERS[kind]

        def dump(self, target: Path, progress: engines.Progress) -> tuple[int, str]:
            target.write_bytes(b"half a database")
            raise KeyboardInterrupt  # as a SIGTERM or Ctrl-C in the middle of the copy

    monkeypatch.setattr(services, "engine_for", lambda: Failing())
    destination = tmp_path / "out" / "b.apcert-backup"
    with pytest.raises(KeyboardInterrupt):
        services.backup_take(destination=destination, include_keys=False, progress=print)
    assert list(destination.parent.iterdir()) == []


def test_a_backup_whose_archive_cannot_be_written_leaves_no_file(tmp_path: Path) -> None:
    manifest = Manifest("0.1.0", "sqlite", "t", 0, GENESIS_HASH, ())
    destination = tmp_path / "b.apcert-backup"
    with pytest.raises(FileNotFoundError):
        archive_write(destination, manifest=manifest, files={"keys/a": tmp_path / "missing"})
    assert list(tmp_path.iterdir()) == []


# --- the published head ----------------------------------------------------------------------


def test_the_head_file_moves_forward_only(_head_file: Path) -> None:
    assert head_file_read() is None
    assert head_file_write(PublishedHead(seq=5, hash=HASH_A))
    assert not head_file_write(PublishedHead(seq=4, hash=HASH_B))  # behind
    assert not head_file_write(PublishedHead(seq=5, hash=HASH_B))  # beside, same place
    # ahead, but on a chain whose event #5 is another: a fork
    assert not head_file_write(PublishedHead(seq=9, hash=HASH_B), hash_at=lambda seq: HASH_B)
    assert head_file_read() == PublishedHead(seq=5, hash=HASH_A)
    assert head_file_write(PublishedHead(seq=9, hash=HASH_B), hash_at=lambda seq: HASH_A)
    assert head_file_write(PublishedHead(seq=2, hash=HASH_B), force=True)
    assert head_file_read() == PublishedHead(seq=2, hash=HASH_B)


@pytest.mark.django_db
def test_the_worker_s_publication_follows_the_chain_and_never_rolls_it_back(
    _head_file: Path,
) -> None:
    with transaction.atomic():
        first = audit_record(actor=None, action="test.write", object_type="t", object_id=1)
    head, written = audit_head_publish()
    assert written and (head.seq, head.hash) == (first.seq, first.hash)
    assert head_file_read() == head
    # a head published elsewhere beyond this chain (the database was rolled back since)
    head_file_write(PublishedHead(seq=first.seq + 3, hash=HASH_A))
    with transaction.atomic():
        audit_record(actor=None, action="test.write", object_type="t", object_id=2)
    assert audit_head_publish()[1] is False
    assert head_file_read() == PublishedHead(seq=first.seq + 3, hash=HASH_A)


@pytest.mark.django_db
def test_the_register_publishes_the_chain_head(client: Client) -> None:
    with transaction.atomic():
        event = audit_record(actor=None, action="test.write", object_type="t", object_id=1)
    response = client.get("/register/audit-head.json")
    assert response.status_code == 200
    assert "max-age=10" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    assert not response.cookies
    body = response.json()
    assert (body["seq"], body["hash"]) == (event.seq, event.hash)
    assert body["at"]


@pytest.fixture
def served_head() -> Iterator[str]:
    """A register's published head, served on the loopback."""
    body = json.dumps({"seq": 7, "hash": HASH_A, "at": "2026-01-01T00:00:00Z"}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/register/audit-head.json"
    server.shutdown()
    server.server_close()


def test_a_published_head_is_read_from_a_register_or_a_file(
    served_head: str, tmp_path: Path
) -> None:
    assert published_head_read(served_head) == PublishedHead(7, HASH_A, "2026-01-01T00:00:00Z")
    bad = tmp_path / "head.json"
    bad.write_text('{"seq": -1, "hash": "x"}')
    with pytest.raises(BackupRefused, match="'seq' must be a whole number"):
        published_head_read(str(bad))
    with pytest.raises(BackupRefused, match="could not be read"):
        published_head_read(str(tmp_path / "absent.json"))


# --- rollback --------------------------------------------------------------------------------


def test_a_chain_behind_or_beside_a_known_head_is_a_rollback() -> None:
    known = KnownHead("head file", PublishedHead(seq=5, hash=HASH_A))
    shorter = ChainFacts(end_seq=3, end_hash=HASH_B, hashes={})
    assert "at event #5, the backup ends at #3: 2 events would be lost" in str(
        services._rollback(known, shorter)
    )
    other = ChainFacts(end_seq=8, end_hash=HASH_B, hashes={5: HASH_B})
    assert "different history" in str(services._rollback(known, other))
    same = ChainFacts(end_seq=8, end_hash=HASH_B, hashes={5: HASH_A})
    assert services._rollback(known, same) is None


# --- restore refusals (nothing is touched) ---------------------------------------------------


@pytest.mark.django_db
def test_restore_refuses_a_damaged_file_and_leaves_the_database(tmp_path: Path) -> None:
    with transaction.atomic():
        audit_record(actor=None, action="test.write", object_type="t", object_id=1)
    path = _archive(tmp_path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CommandError, match=r"truncated or damaged|incomplete|checksum") as caught:
        call_command("restore", str(path), "--force", "--quiet")
    assert caught.value.returncode == 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_restore_refuses_a_non_empty_database_without_force(tmp_path: Path) -> None:
    with transaction.atomic():
        audit_record(actor=None, action="test.write", object_type="t", object_id=1)
    with pytest.raises(CommandError, match=r"not empty .* pass --force") as caught:
        call_command("restore", str(_archive(tmp_path)), "--quiet")
    assert caught.value.returncode == 1
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_restore_refuses_a_backup_of_the_other_database_kind(tmp_path: Path) -> None:
    other = "sqlite" if database_kind() == "postgresql" else "postgresql"
    with pytest.raises(CommandError, match=f"backup is of a {other} database"):
        call_command("restore", str(_archive(tmp_path, kind=other)), "--quiet")


# --- the round trip on PostgreSQL ------------------------------------------------------------


def _restore_in_process_of_its_own(
    backup: Path, database_url: str, tmp: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "APCERT_VAR_DIR": str(tmp / "var"),
        "APCERT_AUDIT_HEAD_FILE": str(tmp / "published" / "audit-head.json"),
        "APCERT_KEY_DIR": str(tmp / "keys"),
    }
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "apcert", "restore", str(backup), "--quiet", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _table_counts(dbname: str) -> dict[str, int]:
    import psycopg

    config = connection.settings_dict
    with psycopg.connect(
        dbname=dbname,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
    ) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # type: ignore[index]
        counts["hashes"] = hash(
            tuple(r[0] for r in db.execute("SELECT hash FROM audit_auditevent ORDER BY seq"))
        )
    return counts


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_backup_restores_whole_and_an_older_one_is_a_rollback(
    live_world: object, tmp_path: Path
) -> None:
    # given a database with records, backed up
    source = connection.settings_dict["NAME"]
    first = tmp_path / "first.apcert-backup"
    call_command("backup", str(first), "--quiet", stdout=StringIO())
    head = AuditChainHead.objects.get()
    published = head_file_read()
    assert published is not None
    assert (published.seq, published.hash) == (head.last_seq, head.last_hash)
    target = f"{source}_restored"
    config = connection.settings_dict
    url = (
        f"postgres://{config['USER']}:{config['PASSWORD'] or ''}@{config['HOST'] or '127.0.0.1'}"
        f":{config['PORT'] or 5432}/{target}"
    )
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target}"')
        cursor.execute(f'CREATE DATABASE "{target}"')
    try:
        # when restored into an empty database, then it holds the same rows and checks pass
        done = _restore_in_process_of_its_own(first, url, tmp_path)
        assert done.returncode == 0, done.stderr
        for check in ("audit verify", "reindex --check", "visits-check"):
            assert f"check {check}: ok" in done.stdout
        assert _table_counts(target) == _table_counts(source)

        # given more events since, published by a later backup
        for n in range(2):
            with transaction.atomic():
                audit_record(actor=None, action="test.write", object_type="t", object_id=n)
        second = tmp_path / "second.apcert-backup"
        call_command("backup", str(second), "--quiet", stdout=StringIO())
        # when the first backup is restored again, then it is refused as a rollback
        refused = _restore_in_process_of_its_own(first, url, tmp_path, "--force")
        assert refused.returncode == 3, refused.stderr
        assert "this backup is older than the published head" in refused.stderr
        assert "knowing 2 events are lost" in refused.stderr
        # and accepted with the flag, which publishes the restored head
        accepted = _restore_in_process_of_its_own(
            first, url, tmp_path, "--force", "--accept-rollback"
        )
        assert accepted.returncode == 0, accepted.stderr
        assert "ROLLBACK ACCEPTED" in accepted.stderr
        assert head_file_read().seq == head.last_seq  # type: ignore[union-attr]
    finally:
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')


# --- signing keys ----------------------------------------------------------------------------


class _CopyOfBytes:
    """An engine whose database is a few bytes: for what a backup adds around the database."""

    kind = database_kind()
    member_name = DATABASE_MEMBERS[kind]

    def dump(self, target: Path, progress: engines.Progress) -> tuple[int, str]:
        target.write_bytes(b"a database")
        return 0, GENESIS_HASH


def test_keys_are_left_out_unless_asked_and_then_restored_without_overwriting(
    settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(services, "engine_for", lambda: _CopyOfBytes())
    keys = Path(settings.KEY_DIR)
    (keys / "CB1").mkdir(parents=True)
    (keys / "CB1" / "k1.pem").write_bytes(b"private one")
    (keys / "CB1" / "k2.pem").write_bytes(b"private two")

    out, err = StringIO(), StringIO()
    call_command("backup", str(tmp_path / "plain.apcert-backup"), "--quiet", stdout=out, stderr=err)
    assert "are NOT in it" in out.getvalue()
    with archive_open(tmp_path / "plain.apcert-backup") as (manifest, _):
        assert manifest.key_members == ()

    out, err = StringIO(), StringIO()
    with_keys = tmp_path / "keys.apcert-backup"
    call_command("backup", str(with_keys), "--include-keys", "--quiet", stdout=out, stderr=err)
    assert "WARNING: the backup holds 2 private signing key file(s)" in err.getvalue()

    settings.KEY_DIR = tmp_path / "new-keys"
    (tmp_path / "new-keys" / "CB1").mkdir(parents=True)
    (tmp_path / "new-keys" / "CB1" / "k2.pem").write_bytes(b"another key")
    said: list[str] = []
    with archive_open(with_keys) as (manifest, unpacked):
        assert [m.name for m in manifest.key_members] == ["keys/CB1/k1.pem", "keys/CB1/k2.pem"]
        assert services._keys_restore(manifest, unpacked, said.append) == 1
    restored = tmp_path / "new-keys" / "CB1" / "k1.pem"
    assert restored.read_bytes() == b"private one"
    assert restored.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new-keys" / "CB1" / "k2.pem").read_bytes() == b"another key"
    assert said == [f"kept {tmp_path / 'new-keys' / 'CB1' / 'k2.pem'}: it differs from the "
                    "backup's copy, which was not written"]  # fmt: skip


def test_a_missing_postgresql_client_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(engines, "PG_SEARCH", str(tmp_path / "postgresql" / "*" / "bin"))
    with pytest.raises(BackupRefused, match="pg_dump was not found on PATH nor under"):
        engines.pg_binary("pg_dump")
    # found under a versioned directory, the newest first
    for version in ("9", "15"):
        program = tmp_path / "postgresql" / version / "bin" / "pg_dump"
        program.parent.mkdir(parents=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    assert engines.pg_binary("pg_dump") == str(tmp_path / "postgresql" / "15" / "bin" / "pg_dump")


# --- the checks after a restore --------------------------------------------------------------


def test_the_checks_after_a_restore_report_each_and_a_failure_exits_4(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a restored database whose search index lost a certificate
    cert = world.granted()
    SearchEntry.objects.filter(pk=cert.pk).delete()
    # when checked, then each check is reported, and the index's as failed
    checks = services.restore_checks()
    assert [(c.name, c.ok) for c in checks] == [
        ("audit verify", True),
        ("reindex --check", False),
        ("visits-check", True),
    ]
    assert "reindex: the search index is out of step" in checks[1].said
    # and the restore command, having restored, exits 4 naming the failed check
    manifest = Manifest("0.1.0", database_kind(), "t", 0, GENESIS_HASH, ())
    result = services.RestoreResult(manifest, (), checks, 0)
    monkeypatch.setattr(restore_command, "backup_restore", lambda **kwargs: result)
    out = StringIO()
    with pytest.raises(CommandError, match=r"restored but reindex --check failed") as caught:
        call_command("restore", str(tmp_path / "any"), "--quiet", stdout=out)
    assert caught.value.returncode == 4
    assert "check audit verify: ok\n" in out.getvalue()
    assert "check reindex --check: FAILED\n" in out.getvalue()
