"""Shared fixtures of the credential tests: keys in a temporary directory, a fixed site."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

SITE = "https://register.example"


@pytest.fixture
def key_dir(settings, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Private keys go to a fresh directory; DIDs are under https://register.example."""
    settings.KEY_DIR = tmp_path / "keys"
    settings.SITE_URL = SITE
    yield settings.KEY_DIR


def verify_command(*args: str) -> tuple[int, str, str]:
    """``apcert verify`` in-process: its exit code, standard output and standard error."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()
