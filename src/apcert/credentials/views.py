"""The public documents of the signing keys: each CB's DID document and JWKS, and the JSON-LD
context of the credentials. No account, no cookies; anyone may fetch them (verifiers and
did:web resolvers in browsers too, hence CORS open)."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from apcert.credentials import selectors
from apcert.credentials.document import context_document


def _json(data: dict[str, Any], content_type: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type=content_type
    )
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def did_document(request: HttpRequest, code: str) -> HttpResponse:
    """``did:web:<host>:cbs:<code>`` resolved: the CB's DID document."""
    cb = selectors.public_cb(code)
    if cb is None:
        raise Http404("No certification body with signing keys has this code.")
    return _json(selectors.did_document(cb), "application/did+json")


@require_safe
def jwks(request: HttpRequest, code: str) -> HttpResponse:
    """The CB's JSON Web Key Set."""
    cb = selectors.public_cb(code)
    if cb is None:
        raise Http404("No certification body with signing keys has this code.")
    return _json(selectors.jwks(cb), "application/jwk-set+json")


@require_safe
def context(request: HttpRequest) -> HttpResponse:
    """The JSON-LD context the credentials name after the VC 2.0 one."""
    return _json(context_document(), "application/ld+json")
