"""The public documents of the signing keys: each CB's DID document and JWKS, and the JSON-LD
context of the credentials. No account, no cookies; anyone may fetch them (verifiers and
did:web resolvers in browsers too, hence CORS open)."""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from apcert.core.errors import DomainError
from apcert.credentials import selectors, services
from apcert.credentials.document import context_document
from apcert.register.caching import public_cache

# Cached (apcert.register.caching) with a validator made before anything is read, never
# past midnight UTC. A suspension must reach verifiers quickly: shared caches keep a
# status list a minute. A key changes less often than a status: its documents keep five
# minutes. The JSON-LD context changes only with a release: a day.
KEYS_FRESH_SECONDS = 300
CONTEXT_FRESH_SECONDS = 86_400


def _json(
    data: dict[str, Any],
    content_type: str,
    *,
    status: int = 200,
    cache_control: str | None = None,
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type=content_type, status=status
    )
    if cache_control is not None:
        response["Cache-Control"] = cache_control
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
@public_cache(fresh=KEYS_FRESH_SECONDS)
def did_document(request: HttpRequest, code: str) -> HttpResponse:
    """``did:web:<host>:cbs:<code>`` resolved: the CB's DID document."""
    cb = selectors.public_cb(code)
    if cb is None:
        raise Http404("No certification body with signing keys has this code.")
    return _json(selectors.did_document(cb), "application/did+json")


@require_safe
@public_cache(fresh=KEYS_FRESH_SECONDS)
def register_did_document(request: HttpRequest) -> HttpResponse:
    """``did:web:<host>`` resolved: the register's own DID document (receipt keys)."""
    if not selectors.register_keys():
        raise Http404("The register has no signing key.")
    return _json(selectors.register_did_document(), "application/did+json")


@require_safe
@public_cache(fresh=KEYS_FRESH_SECONDS)
def jwks(request: HttpRequest, code: str) -> HttpResponse:
    """The CB's JSON Web Key Set."""
    cb = selectors.public_cb(code)
    if cb is None:
        raise Http404("No certification body with signing keys has this code.")
    return _json(selectors.jwks(cb), "application/jwk-set+json")


@require_safe
@public_cache(fresh=CONTEXT_FRESH_SECONDS, until_midnight=False, reads_register=False)
def context(request: HttpRequest) -> HttpResponse:
    """The JSON-LD context the credentials name after the VC 2.0 one."""
    return _json(context_document(), "application/ld+json")


@require_safe
@public_cache()
def status_list(request: HttpRequest, code: str, purpose: str) -> HttpResponse:
    """The CB's ``suspension`` or ``revocation`` Bitstring Status List, signed by the CB:
    the ``statusListCredential`` every certificate credential of the CB names."""
    try:
        document = services.status_list_credential(cb_code=code, purpose=purpose)
    except DomainError as error:
        # 404 for an unknown CB or list; 503 when the CB has no key to sign with now (the
        # list exists, and will be served again once the CB has a new key).
        status = 404 if error.http_status == 404 else 503
        return _json(
            {"code": error.code, "message": error.message},
            "application/problem+json",
            status=status,
            cache_control="no-store",
        )
    return _json(document, "application/vc+ld+json")
