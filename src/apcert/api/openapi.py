"""The public API's OpenAPI document, as served and as committed in ``docs/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The committed copy, next to the package sources in a checkout: <repo>/docs/.
COMMITTED_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi-public.json"


def public_openapi_schema() -> dict[str, Any]:
    from apcert.api.public import api

    return dict(api.get_openapi_schema())


def public_openapi_text() -> str:
    """The document as the file holds it: stable key order, two-space indent, final newline."""
    return json.dumps(public_openapi_schema(), indent=2, ensure_ascii=False) + "\n"
