"""Settings come from the environment in one place, with safe defaults."""

from __future__ import annotations

import importlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from apcert import env


def _fresh_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str):  # type: ignore[no-untyped-def]
    for key in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "APCERT_ENV", "APCERT_TEST_DATABASE_NAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("APCERT_VAR_DIR", str(tmp_path / "var"))
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    module = importlib.reload(env)
    return module


@pytest.fixture(autouse=True)
def _restore_env_module():  # type: ignore[no-untyped-def]
    yield
    importlib.reload(env)


def test_default_database_is_sqlite_under_var_with_wal_and_persistent_connections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _fresh_env(monkeypatch, tmp_path)
    db = e.databases()["default"]
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(tmp_path / "var" / "apcert.sqlite3")
    assert db["CONN_MAX_AGE"] is None
    options = db["OPTIONS"]
    assert isinstance(options, dict)
    assert "journal_mode=WAL" in options["init_command"]
    assert options["transaction_mode"] == "IMMEDIATE"


def test_database_url_selects_postgresql_with_health_checks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _fresh_env(monkeypatch, tmp_path, DATABASE_URL="postgres://u:p@db.example:5433/apc")
    db = e.databases()["default"]
    assert db["ENGINE"] == "apcert.core.db.postgresql"
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"]) == ("db.example", 5433, "apc", "u")
    assert db["CONN_MAX_AGE"] is None
    assert db["CONN_HEALTH_CHECKS"] is True


def test_debug_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert _fresh_env(monkeypatch, tmp_path).DEBUG is False
    assert _fresh_env(monkeypatch, tmp_path, DEBUG="yes").DEBUG is True
    assert _fresh_env(monkeypatch, tmp_path, DEBUG="0").DEBUG is False


def test_secret_key_is_generated_once_and_kept_private_in_development(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _fresh_env(monkeypatch, tmp_path)
    first = e.secret_key()
    assert len(first) >= 50
    assert e.secret_key() == first
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secret_key_from_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    e = _fresh_env(monkeypatch, tmp_path, SECRET_KEY="from-env-" + "x" * 40)
    assert e.secret_key() == "from-env-" + "x" * 40
    assert not (tmp_path / "var" / "secret_key").exists()


def test_outside_development_a_missing_secret_key_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    e = _fresh_env(monkeypatch, tmp_path, APCERT_ENV="production")
    with pytest.raises(e.ConfigurationError, match="SECRET_KEY is not set"):
        e.secret_key()


def _run(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    environ.update({"APCERT_VAR_DIR": str(cwd / "var"), **extra})
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.own_sqlite
def test_the_console_entry_point_lists_apcert_commands(tmp_path: Path) -> None:
    result = _run("help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("load-reference", "audit", "serve", "demo-data"):
        assert command in result.stdout


@pytest.mark.own_sqlite
def test_a_fresh_sqlite_database_migrates_loads_and_verifies(tmp_path: Path) -> None:
    assert _run("migrate", "--noinput", "-v0", cwd=tmp_path).returncode == 0
    loaded = _run("load-reference", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert "reference data loaded" in loaded.stdout
    verified = _run("audit", "verify", cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain OK: 1 events verified" in verified.stdout
    journal = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1])"
            ".execute('pragma journal_mode').fetchone()[0])",
            str(tmp_path / "var" / "apcert.sqlite3"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert journal.stdout.strip() == "wal"


@pytest.mark.own_sqlite
def test_production_without_secret_key_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = _run("check", cwd=tmp_path, APCERT_ENV="production", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_passwords_are_hashed_with_argon2id_in_the_shipped_settings(settings) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth.hashers import make_password

    from apcert import settings as shipped

    assert shipped.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    settings.PASSWORD_HASHERS = shipped.PASSWORD_HASHERS
    encoded = make_password("correct horse")
    assert encoded.startswith("argon2$argon2id$")
