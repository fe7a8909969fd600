"""Reads from replicas: the setting, the router's choice, read-your-writes, a replica down.

A real streaming replica is in tests/test_replicas_streaming.py; here a replica alias is a
second connection to the test database (as ``TEST: MIRROR`` makes it) or to a port where no
server listens.
"""

from __future__ import annotations

import importlib
import logging
import socket
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert import env
from apcert.api import fastpath
from apcert.api.fastpath import PublicApiLayer
from apcert.certificates.models import Certificate
from apcert.core.db import replicas
from apcert.core.db.replicas import PRIMARY, ReplicaRouter, reading_from
from tests.factories import World
from tests.wsgi_support import Recorder, wsgi_call

# --- the setting ----------------------------------------------------------------------------


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> Any:
    for key in ("DATABASE_URL", "DATABASE_REPLICA_URLS", "APCERT_TEST_DATABASE_NAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("APCERT_VAR_DIR", str(tmp_path / "var"))
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return importlib.reload(env)


@pytest.fixture
def _env_restored(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()  # the environment first, then the module read from it
    importlib.reload(env)


@pytest.mark.usefixtures("_env_restored")
def test_each_replica_url_is_an_alias_with_the_primarys_options_mirrored_in_tests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _env(
        monkeypatch,
        tmp_path,
        DATABASE_URL="postgres://app:pw@primary:5432/apcert?sslmode=require",
        DATABASE_REPLICA_URLS=" postgres://app:pw@r1:5432/apcert , "
        "postgres://app:pw@r2:5433/apcert?connect_timeout=9",
    )
    databases = e.databases()
    assert list(databases) == ["default", "replica1", "replica2"]
    first, second = databases["replica1"], databases["replica2"]
    assert (first["HOST"], second["HOST"], second["PORT"]) == ("r1", "r2", 5433)
    assert first["ENGINE"] == databases["default"]["ENGINE"] == "apcert.core.db.postgresql"
    assert first["OPTIONS"] == {"sslmode": "require", "connect_timeout": 3}
    assert second["OPTIONS"] == {"sslmode": "require", "connect_timeout": 9}
    assert first["TEST"] == {"MIRROR": "default"}
    assert first["CONN_MAX_AGE"] is None


@pytest.mark.usefixtures("_env_restored")
def test_replicas_of_sqlite_or_urls_that_are_not_postgresql_are_refused_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _env(monkeypatch, tmp_path, DATABASE_REPLICA_URLS="postgres://app:secret@r1/apcert")
    with pytest.raises(env.ConfigurationError, match="needs DATABASE_URL to name a PostgreSQL"):
        e.databases()
    e = _env(
        monkeypatch,
        tmp_path,
        DATABASE_URL="postgres://app:pw@primary/apcert",
        DATABASE_REPLICA_URLS="postgres://app:pw@r1/apcert,mysql://app:secret@r2/apcert",
    )
    with pytest.raises(env.ConfigurationError, match="entry 2 is not a PostgreSQL URL") as info:
        e.databases()
    assert "secret" not in str(info.value)


@pytest.mark.usefixtures("_env_restored")
def test_the_lag_bound_and_the_read_your_writes_time_are_whole_seconds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _env(monkeypatch, tmp_path)
    assert (e.REPLICA_MAX_LAG_SECONDS, e.READ_YOUR_WRITES_SECONDS) == (30, 10)
    assert e.DATABASE_REPLICA_URLS == []
    # (reloading the module makes its error class anew: it is caught by its base)
    with pytest.raises(RuntimeError, match="APCERT_REPLICA_MAX_LAG_SECONDS must be a whole"):
        _env(monkeypatch, tmp_path, APCERT_REPLICA_MAX_LAG_SECONDS="soon")


# --- the router -----------------------------------------------------------------------------


def test_reads_go_where_the_request_chose_writes_and_migrations_to_the_primary() -> None:
    router = ReplicaRouter()
    assert router.db_for_read(Certificate) == PRIMARY
    with reading_from("replica1"):
        assert router.db_for_read(Certificate) == "replica1"
        assert router.db_for_write(Certificate) == PRIMARY
    assert router.db_for_read(Certificate) == PRIMARY
    assert router.allow_migrate(PRIMARY, "certificates") is True
    assert router.allow_migrate("replica1", "certificates") is False


@pytest.mark.django_db
def test_a_read_inside_a_transaction_of_the_primary_reads_the_primary() -> None:
    # (the test itself runs inside one)
    assert connections[PRIMARY].in_atomic_block
    with reading_from("replica1"), transaction.atomic():
        assert ReplicaRouter().db_for_read(Certificate) == PRIMARY
        assert replicas.reading_connection() is connections[PRIMARY]


def test_no_replicas_no_choice_and_no_cookie() -> None:
    assert replicas.replica_aliases() == []
    assert replicas.public_read_alias("/certificates/X", {}) == PRIMARY


def test_the_read_your_writes_mark_is_signed_and_lapses(settings: Any) -> None:
    response = HttpResponse()
    replicas.mark_wrote(response)
    cookie = response.cookies[settings.READ_YOUR_WRITES_COOKIE]
    assert cookie["max-age"] == settings.READ_YOUR_WRITES_SECONDS
    assert cookie["httponly"] is True
    assert replicas.wrote_recently({settings.READ_YOUR_WRITES_COOKIE: cookie.value})
    assert not replicas.wrote_recently({settings.READ_YOUR_WRITES_COOKIE: "1"})  # unsigned
    assert not replicas.wrote_recently({})
    settings.READ_YOUR_WRITES_SECONDS = 0
    assert not replicas.wrote_recently({settings.READ_YOUR_WRITES_COOKIE: cookie.value})


# --- replicas configured --------------------------------------------------------------------


def _add_alias(monkeypatch: pytest.MonkeyPatch, alias: str, **changes: Any) -> None:
    config = {**connections[PRIMARY].settings_dict, **changes}
    connections.settings[alias] = config
    monkeypatch.setattr(replicas, "_aliases", [alias])
    replicas._checks.clear()


@pytest.fixture
def down_replica(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``replica1`` on a port where no PostgreSQL server listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free again once closed: nothing listens there
    _add_alias(
        monkeypatch,
        "replica1",
        ENGINE="apcert.core.db.postgresql",
        HOST="127.0.0.1",
        PORT=port,
        NAME="apcert",
        USER="apcert",
        PASSWORD="",
        OPTIONS={"connect_timeout": 2},
    )
    yield "replica1"
    connections["replica1"].close()
    del connections["replica1"]
    del connections.settings["replica1"]
    replicas._checks.clear()


def test_a_replica_that_does_not_answer_leaves_public_reads_to_the_primary_logged_once(
    down_replica: str,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    django_db_blocker: Any,
) -> None:
    settings.REPLICA_CHECK_SECONDS = 60
    with caplog.at_level(logging.WARNING, logger="apcert.core.db.replicas"):
        with django_db_blocker.unblock():
            assert replicas.public_read_alias("/certificates/X", {}) == PRIMARY
            # within the check interval the answer is kept: no second attempt, no second line
            assert replicas.public_read_alias("/certificates/Y", {}) == PRIMARY
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith("database replica1 is not used for reads until it recovers")
    assert "does not answer (OperationalError" in lines[0]
    # the back office never asks a replica
    assert replicas.public_read_alias("/office/", {}) == PRIMARY


@pytest.fixture
def mirror_replica(live_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``replica1`` as a second connection to the test database, as ``TEST: MIRROR`` makes
    it (PostgreSQL only: a replica is a PostgreSQL server), with real commits."""
    if connections[PRIMARY].vendor != "postgresql":
        pytest.skip("replicas are PostgreSQL servers")
    test = {**connections[PRIMARY].settings_dict["TEST"], "MIRROR": PRIMARY}
    _add_alias(monkeypatch, "replica1", TEST=test)
    # Connected here: the test case set up before the alias existed refuses to connect it.
    connections["replica1"].connect()
    yield "replica1"
    connections["replica1"].close()
    del connections["replica1"]
    del connections.settings["replica1"]
    replicas._checks.clear()


@pytest.mark.postgres_only
def test_public_pages_read_the_replica_a_writer_reads_the_primary(
    mirror_replica: str,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World.build()
    certificate = world.granted()
    replica, primary = connections[mirror_replica], connections[PRIMARY]
    client = Client()
    # A public page reads from the replica alone
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(primary) as on_pri:
        answer = client.get(f"/certificates/{certificate.number}")
    assert answer.status_code == 200
    assert len(on_replica) > 0
    assert [q["sql"] for q in on_pri] == []
    assert settings.READ_YOUR_WRITES_COOKIE not in answer.cookies
    # A write outside the public register marks the browser
    answer = client.post("/office/sign-in", {"username": "nobody", "password": "wrong-one"})
    assert answer.status_code < 400
    assert settings.READ_YOUR_WRITES_COOKIE in answer.cookies
    # ... whose public reads then go to the primary
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(primary) as on_pri:
        assert client.get(f"/certificates/{certificate.number}").status_code == 200
    assert [q["sql"] for q in on_replica] == []
    assert len(on_pri) > 0
    # The health check reads the primary whoever asks
    with CaptureQueriesContext(replica) as on_replica:
        Client().get("/healthz")
    assert [q["sql"] for q in on_replica] == []
    # The public API's fast path reads from the replica too (its prepared statement is there)
    monkeypatch.setattr(fastpath, "_prepared", weakref.WeakSet())  # (other tests' set apart)
    layer = PublicApiLayer(Recorder())
    answer_ = wsgi_call(layer, "/api/public/certificates/" + certificate.number.replace(" ", "%20"))
    assert answer_.status == 200
    assert replica.connection in fastpath._prepared
    assert primary.connection not in fastpath._prepared

    # When the replica's connection breaks after its last check (which found it well, and
    # is kept for a while) without a word on its socket (a network cut: a server that ends
    # a connection says so, and the connection is then replaced before its next query), and
    # the connection was vouched for a moment ago
    settings.REPLICA_CHECK_SECONDS = 600
    monkeypatch.setattr(replica, "_server_spoke", lambda: False)
    with primary.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [replica.connection.info.backend_pid])
    replica._vouched_at = time.monotonic()  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="apcert.core.db.replicas"):
        answer = Client(raise_request_exception=False).get(f"/certificates/{certificate.number}")
    # Then the page is answered from the primary, and the replica skipped until checked again
    assert answer.status_code == 200
    assert certificate.number in answer.content.decode()
    assert "replica1 is not used for reads until it recovers: a query failed" in caplog.text
    assert replicas.public_read_alias("/", {}) == PRIMARY
