"""Signing keys: generation and rotation, compromise, the key files, the published DID
documents and JWKS, the trust bundle, and the key commands."""

from __future__ import annotations

import datetime as dt
import json
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from apcert.audit.models import AuditEvent
from apcert.core.errors import INVALID_DATETIME, NotFound, RuleViolation, ValidationFailed
from apcert.credentials import keyfiles, multikey, selectors, services
from apcert.credentials.errors import KEY_DIR_UNWRITABLE
from apcert.credentials.models import SigningKey
from apcert.credentials.trust import TrustStore
from tests.credentials_support import SITE, key_dir
from tests.factories import World

pytestmark = pytest.mark.django_db

__all__ = ["key_dir"]


def _generate(world: World) -> SigningKey:
    return services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)


def test_a_new_key_is_written_0600_in_a_0700_directory_and_only_its_public_half_is_stored(
    world: World, key_dir: Path
) -> None:
    # When a key is generated for the CB
    key = _generate(world)

    # Then its private half is a file of the owner alone...
    path = keyfiles.key_path(world.team.cb.code, key.public_key_multibase)
    assert path.parent.parent == key_dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    # ...that holds the key of the public half stored
    private = keyfiles.read_private_key(world.team.cb.code, key.public_key_multibase)
    assert private.public_key().public_bytes_raw() == multikey.public_key_from_multibase(
        key.public_key_multibase
    )
    # and the database holds nothing of the private half, in any table
    seed = private.private_bytes_raw()
    secrets = {seed.hex(), multikey.multibase_encode(seed), path.read_text().splitlines()[1]}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = repr(cursor.fetchall())
            assert not any(s in dump for s in secrets), table
    assert key.key_id == f"did:web:register.example:cbs:{world.team.cb.code}#key-1"
    event = AuditEvent.objects.get(action="signing_key.generate")
    assert event.after["key_id"] == key.key_id


def test_rotation_retires_the_old_key_and_the_new_one_signs(world: World, key_dir: Path) -> None:
    first = _generate(world)
    second = _generate(world)

    first.refresh_from_db()
    assert first.retired_at is not None and second.retired_at is None
    assert second.sequence == 2
    assert selectors.current_key(world.team.cb) == second
    document = selectors.did_document(world.team.cb)
    assert document["assertionMethod"] == [first.key_id, second.key_id]


def test_generating_for_an_unknown_cb_is_refused(world: World, key_dir: Path) -> None:
    with pytest.raises(NotFound) as caught:
        services.cb_by_code("NOPE")
    assert caught.value.code == "cb.unknown"
    with pytest.raises(CommandError, match="no certification body 'NOPE'"):
        call_command("keys-generate", "--cb", "NOPE")


def test_a_failed_transaction_leaves_no_key_file(
    world: World, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**kwargs: object) -> None:
        raise RuntimeError("audit refused")

    monkeypatch.setattr(services, "audit_record", refuse)
    with pytest.raises(RuntimeError):
        _generate(world)

    assert not SigningKey.objects.exists()
    assert list((key_dir / world.team.cb.code).iterdir()) == []


def test_a_key_directory_that_cannot_be_written_is_refused_and_nothing_is_stored(
    world: World, key_dir: Path, settings: Any, tmp_path: Path
) -> None:
    # given a key directory under a plain file, where no directory can be made
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file")
    settings.KEY_DIR = blocker / "keys"

    # when a key is generated, by the service and by the command
    with pytest.raises(ValidationFailed) as caught:
        _generate(world)
    with pytest.raises(CommandError, match="cannot be written"):
        call_command("keys-generate", "--cb", world.team.cb.code, stdout=StringIO())

    # then it is refused, naming the directory, and no key or event is written
    assert caught.value.code == KEY_DIR_UNWRITABLE
    assert str(blocker / "keys") in caught.value.message
    assert not SigningKey.objects.exists()
    assert not AuditEvent.objects.filter(action="signing_key.generate").exists()
    assert blocker.read_text() == "a file"


def test_compromise_sets_the_date_retires_the_key_and_is_audited(
    world: World, key_dir: Path
) -> None:
    key = _generate(world)
    since = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)

    services.signing_key_compromise(actor=world.secretariat, key_id=key.key_id, since=since)

    key.refresh_from_db()
    assert key.compromised_from == since and key.retired_at is not None
    assert selectors.current_key(world.team.cb) is None
    method = selectors.did_document(world.team.cb)["verificationMethod"][0]
    assert method["revoked"] == "2026-03-01T08:00:00Z"
    assert selectors.jwks(world.team.cb) == {"keys": []}
    assert AuditEvent.objects.filter(action="signing_key.compromise").count() == 1
    # A later date would trust again what was distrusted: refused
    with pytest.raises(RuleViolation) as caught:
        services.signing_key_compromise(
            actor=None, key_id=key.key_id, since=since + dt.timedelta(days=1)
        )
    assert caught.value.code == "key.already_compromised"


def test_a_compromise_time_without_its_time_zone_is_refused_and_nothing_changes(
    world: World, key_dir: Path
) -> None:
    # given the CB's signing key
    key = _generate(world)
    events = AuditEvent.objects.count()

    # when it is marked compromised from a time with no zone
    with pytest.raises(ValidationFailed) as caught:
        services.signing_key_compromise(
            actor=world.secretariat, key_id=key.key_id, since=dt.datetime(2026, 3, 1, 8)
        )

    # then it is refused, and the key still signs
    assert caught.value.code == INVALID_DATETIME
    key.refresh_from_db()
    assert (key.compromised_from, key.retired_at) == (None, None)
    assert selectors.current_key(world.team.cb) == key
    assert AuditEvent.objects.count() == events


def test_compromising_an_unknown_key_is_refused(world: World, key_dir: Path) -> None:
    with pytest.raises(NotFound) as caught:
        services.signing_key_compromise(
            actor=None, key_id="did:web:x#key-9", since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
    assert caught.value.code == "key.unknown"
    with pytest.raises(CommandError, match="no signing key"):
        call_command("keys-compromise", "did:web:x#key-9", "--since", "2026-01-01T00:00:00Z")
    with pytest.raises(CommandError, match="not a date-time"):
        call_command("keys-compromise", "did:web:x#key-9", "--since", "soon")


def test_a_missing_or_foreign_key_file_is_a_clear_error(world: World, key_dir: Path) -> None:
    key = _generate(world)
    path = keyfiles.key_path(world.team.cb.code, key.public_key_multibase)
    other = _generate(world)
    other_path = keyfiles.key_path(world.team.cb.code, other.public_key_multibase)

    path.write_bytes(other_path.read_bytes())
    with pytest.raises(ValidationFailed) as foreign:
        keyfiles.read_private_key(world.team.cb.code, key.public_key_multibase)
    path.unlink()
    with pytest.raises(ValidationFailed) as missing:
        keyfiles.read_private_key(world.team.cb.code, key.public_key_multibase)

    assert foreign.value.code == "key.file_unreadable"
    assert missing.value.code == "key.file_missing"
    assert str(path) in missing.value.message


def test_keys_commands_generate_list_and_compromise(world: World, key_dir: Path) -> None:
    out = StringIO()
    call_command("keys-generate", "--cb", world.team.cb.code.lower(), stdout=out)
    key = SigningKey.objects.get()
    assert key.key_id in out.getvalue()

    listing = StringIO()
    call_command("keys-list", stdout=listing)
    assert f"{key.key_id}\tsigning" in listing.getvalue()
    assert "private key file present" in listing.getvalue()

    call_command("keys-compromise", key.key_id, "--since", "2026-03-01T08:00", stdout=StringIO())
    key.refresh_from_db()
    assert key.compromised_from == dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    listing = StringIO()
    call_command("keys-list", stdout=listing)
    assert "compromised since 2026-03-01T08:00:00+00:00" in listing.getvalue()


def test_did_document_and_jwks_are_served_without_an_account(
    world: World, key_dir: Path, client: Client
) -> None:
    first = _generate(world)
    second = _generate(world)
    code = world.team.cb.code

    did = client.get(f"/cbs/{code}/did.json")
    jwks = client.get(f"/cbs/{code}/jwks.json")
    context = client.get("/ns/credentials/v1")

    assert did.status_code == 200 and jwks.status_code == 200 and context.status_code == 200
    assert did["Content-Type"] == "application/did+json"
    assert not did.cookies and not jwks.cookies
    document = did.json()
    assert document["id"] == f"did:web:register.example:cbs:{code}"
    assert [m["publicKeyMultibase"] for m in document["verificationMethod"]] == [
        first.public_key_multibase,
        second.public_key_multibase,
    ]
    assert [k["kid"] for k in jwks.json()["keys"]] == [first.key_id, second.key_id]
    x_values = [
        multikey.public_jwk(multikey.public_key_from_multibase(k.public_key_multibase), kid="")["x"]
        for k in (first, second)
    ]
    assert [k["x"] for k in jwks.json()["keys"]] == x_values
    assert "@vocab" in context.json()["@context"]


def test_a_cb_without_keys_or_unknown_has_no_did_document(world: World, client: Client) -> None:
    assert client.get(f"/cbs/{world.team.cb.code}/did.json").status_code == 404
    assert client.get("/cbs/NOPE/jwks.json").status_code == 404


def test_did_web_of_a_site_with_a_port_and_a_path(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    from apcert.credentials import identifiers

    settings.SITE_URL = "http://127.0.0.1:8000/apcert"
    assert identifiers.cb_did("AB") == "did:web:127.0.0.1%3A8000:apcert:cbs:AB"
    assert identifiers.did_document_url("AB") == "http://127.0.0.1:8000/apcert/cbs/AB/did.json"


def test_the_trust_bundle_lists_every_cb_with_its_keys(
    world: World, key_dir: Path, tmp_path: Path
) -> None:
    key = _generate(world)
    other = World.make_cb(world.secretariat, "ZZ9", dt.date(2020, 1, 1))
    other_key = services.signing_key_generate(actor=None, cb=other.cb)
    out = tmp_path / "bundle.json"

    call_command("trust-bundle", "--out", str(out), stdout=StringIO())

    bundle = json.loads(out.read_text())
    assert bundle["register"] == SITE
    assert [i["code"] for i in bundle["issuers"]] == sorted([world.team.cb.code, "ZZ9"])
    store = TrustStore.from_bundle(bundle)
    assert set(store.keys) == {key.key_id, other_key.key_id}
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_missing_gives_a_first_key_to_every_cb_and_the_register_once(
    world: World, key_dir: Path
) -> None:
    from apcert.bodies.models import CertificationBody

    # given one CB that already signs
    kept = services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    # when keys are made for whoever has none, twice
    first, second = StringIO(), StringIO()
    call_command("keys-generate", "--missing", stdout=first)
    call_command("keys-generate", "--missing", stdout=second)
    # then every CB and the register sign, the CB's own key untouched, the second run idle
    owners = set(SigningKey.objects.values_list("cb_id", flat=True))
    assert owners == {*CertificationBody.objects.values_list("pk", flat=True), None}
    assert SigningKey.objects.filter(cb=world.team.cb).get() == kept
    assert selectors.current_register_key() is not None
    assert "nothing to do" in second.getvalue()
    assert SigningKey.objects.count() == len(owners)
