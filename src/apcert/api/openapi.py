"""The APIs' OpenAPI documents, as served and as committed in ``docs/``: the public
register's (``/api/public/``) and the one for integrators (``/api/v1/``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The committed copies, next to the package sources in a checkout: <repo>/docs/.
DOCS = Path(__file__).resolve().parents[3] / "docs"
COMMITTED_PATH = DOCS / "openapi-public.json"
COMMITTED_PATHS = {
    "public": COMMITTED_PATH,
    "integrations": DOCS / "openapi-integrations.json",
}


def openapi_schema(name: str) -> dict[str, Any]:
    """The document of the API ``name`` (``public`` or ``integrations``)."""
    from apcert.api import integrations, public

    api = public.api if name == "public" else integrations.api
    return dict(api.get_openapi_schema())


def openapi_text(name: str) -> str:
    """The document as the file holds it: stable key order, two-space indent, final newline."""
    return json.dumps(openapi_schema(name), indent=2, ensure_ascii=False) + "\n"


def public_openapi_schema() -> dict[str, Any]:
    return openapi_schema("public")


def public_openapi_text() -> str:
    return openapi_text("public")
