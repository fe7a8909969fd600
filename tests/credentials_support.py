"""Shared fixtures of the credential tests: keys in a temporary directory, a fixed site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SITE = "https://register.example"


@pytest.fixture
def key_dir(settings, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """Private keys go to a fresh directory; DIDs are under https://register.example."""
    settings.KEY_DIR = tmp_path / "keys"
    settings.SITE_URL = SITE
    yield settings.KEY_DIR
