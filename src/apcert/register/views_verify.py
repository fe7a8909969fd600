"""The register's verification page, ``/verify``: what a certificate's QR code opens.

GET ``?number=...&issue=N`` answers from the register's record; POST checks a signed
credential (an uploaded PDF or JSON file, or pasted JSON). No account, no cookie, on a phone
as on a desk. The answers are made by :mod:`apcert.register.verification`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from apcert.core.errors import DomainError
from apcert.credentials import selectors as credential_selectors
from apcert.credentials import services as credential_services
from apcert.documents import file_stem
from apcert.register import verification

#: The request body may carry a little more than the file: the form's other fields.
_BODY_MARGIN = 64 * 1024
_MB = verification.MAX_UPLOAD_BYTES // (1024 * 1024)


def _issue_param(raw: str) -> int | str | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw.isdigit() and 0 < int(raw) < 100_000:
        return int(raw)
    return f"The issue is a whole number such as 2 (not {raw[:20]!r})."


def _page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context.setdefault("section", "verify")
    context.setdefault("max_mb", _MB)
    response = render(request, "register/verify.html", context, status=status)
    # An answer to what one person sent (a form with its own token, a document checked):
    # no cache keeps it.
    response["Cache-Control"] = "private, no-store"
    return response


def _too_large() -> dict[str, Any]:
    return {
        "credential_answer": verification.CredentialAnswer(
            False,
            "The file is too large",
            [
                f"The page checks files of up to {_MB} MB; a certificate PDF is far smaller. "
                "Check that this is the certificate's PDF or its credential's JSON."
            ],
            "upload.too_large",
        )
    }


# Exempt from CSRF: this POST changes nothing (it checks the document sent with it and
# stores nothing, with no account and no session), so a forged request gains its sender
# nothing; and CSRF protection would need a csrftoken cookie, which the public register
# never sets (tests/test_register_pages.py holds every public page to no cookie).
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def verify_page(request: HttpRequest) -> HttpResponse:
    """Check a certificate by its number (and issue), or a signed credential by its file."""
    today = timezone.localdate()
    if request.method == "POST":
        return _verify_document(request, today)
    number = (request.GET.get("number") or "").strip()[:80]
    issue = _issue_param(request.GET.get("issue") or "")
    context: dict[str, Any] = {"number": number, "issue": request.GET.get("issue", "")[:20]}
    if isinstance(issue, str):
        context["error"] = issue
        return _page(request, context, status=400)
    if not number:
        return _page(request, context)
    answer = verification.number_answer(number, issue, today=today)
    context["answer"] = answer
    context["suggestion_links"] = [
        (s, "/verify?" + urlencode({"number": s} | ({"issue": str(issue)} if issue else {})))
        for s in answer.suggestions
    ]
    if answer.found and credential_selectors.current_register_key() is not None:
        # Offered only while the register has a key to sign receipts with.
        context["receipt_url"] = "/verify/receipt?" + urlencode(
            {"number": answer.number, "on": today.isoformat()}
        )
    return _page(request, context, status=200 if answer.found else 404)


def _verify_document(request: HttpRequest, today: dt.date) -> HttpResponse:
    # Refuse an oversized body before Django reads it (and before its own 2.5 MB limit
    # answers a bare 400).
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > verification.MAX_UPLOAD_BYTES + _BODY_MARGIN:
        return _page(request, _too_large(), status=413)
    upload = request.FILES.get("file")
    pasted = (request.POST.get("credential") or "").strip()
    if upload is not None and upload.size:
        if upload.size > verification.MAX_UPLOAD_BYTES:
            return _page(request, _too_large(), status=413)
        data = upload.read(verification.MAX_UPLOAD_BYTES + 1)
    elif pasted:
        data = pasted.encode("utf-8")
        if len(data) > verification.MAX_UPLOAD_BYTES:
            return _page(request, _too_large(), status=413)
    else:
        return _page(
            request,
            {"error": "Choose a certificate PDF or a credential file, or paste a credential."},
            status=400,
        )
    answer = verification.credential_answer(data, today=today)
    # A document nested deeper, or embedding more, than any credential is refused as sent.
    status = 400 if answer.code in verification.REFUSED_CODES else 200
    return _page(request, {"credential_answer": answer}, status=status)


@require_safe
def receipt_download(request: HttpRequest) -> HttpResponse:
    """A signed verification receipt of ``?number=...&on=YYYY-MM-DD`` (default: today), as a
    JSON file: the register's signed statement of whether the certificate was current. A
    refusal is problem JSON, or the verify page saying why to a browser, which asks for
    HTML first."""
    number = (request.GET.get("number") or "").strip()[:80]
    raw_on = (request.GET.get("on") or "").strip()[:20]
    try:
        on = dt.date.fromisoformat(raw_on) if raw_on else timezone.localdate()
    except ValueError:
        return _receipt_refused(
            request, number, 400, "invalid.date", f"{raw_on!r} is not a date as YYYY-MM-DD."
        )
    try:
        receipt = credential_services.receipt_issue(number=number, on=on)
    except DomainError as error:
        # 404 unknown certificate, 400 a day before the first issue or after today; 503
        # while the register has no key.
        status = error.http_status if error.http_status in (400, 404) else 503
        return _receipt_refused(request, number, status, error.code, error.message)
    response = HttpResponse(
        json.dumps(receipt, indent=2, ensure_ascii=False), content_type="application/vc+ld+json"
    )
    name = file_stem(number, 0).removesuffix("-issue-0")
    response["Content-Disposition"] = f'attachment; filename="{name}-receipt-{on}.vc.json"'
    response["Cache-Control"] = "no-store"
    return response


def _receipt_refused(
    request: HttpRequest, number: str, status: int, code: str, message: str
) -> HttpResponse:
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        response = _page(request, {"number": number, "error": message}, status=status)
    else:
        response = _receipt_problem(status, code, message)
    patch_vary_headers(response, ["Accept"])  # which of the two came depends on it
    return response


def _receipt_problem(status: int, code: str, message: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"code": code, "message": message}),
        content_type="application/problem+json",
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response
