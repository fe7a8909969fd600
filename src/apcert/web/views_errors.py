"""The pages Django shows when no view answers: an unknown address (404), a refusal raised
outside the services (403), a malformed request (400) and a form sent with an expired or
missing CSRF token.

Under /office/ they have the back office's layout, with a way back to its home and to the
section the address belongs to; elsewhere the public register's, which never reads the
session (its pages set no cookie, and an unknown address under them is one of its pages).
The 500 page is Django's own handler with the plain template ``500.html``: it needs no
database, no request and no context, since whatever failed may be any of them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apcert.web.errors import in_office, way_back


def _public_page(request: HttpRequest, title: str, message: str, status: int) -> HttpResponse:
    return render(
        request, "register/not_found.html", {"title": title, "message": message}, status=status
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """An address nothing answers, or a record the visitor may not see (the same answer, so
    that it tells nobody whether another organization's record exists)."""
    if not in_office(request):
        return _public_page(
            request,
            "Page not found",
            "There is no page at this address in the public register. It may be mistyped, "
            "or the page may have moved.",
            404,
        )
    return render(
        request,
        "web/not_found.html",
        {"path": request.path, **way_back(request)},
        status=404,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A refusal raised outside the services (which answer with the reason themselves)."""
    if not in_office(request):
        return _public_page(request, "Not allowed", "This address is not open to the public.", 403)
    return render(
        request,
        "web/refused.html",
        {"heading": "Not allowed", "message": "This page is not open to you.", **way_back(request)},
        status=403,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request the site cannot read (a malformed address or form)."""
    message = "The request could not be read. Go back, reload the page and try again."
    if not in_office(request):
        return _public_page(request, "Bad request", message, 400)
    return render(
        request,
        "web/refused.html",
        {"heading": "Bad request", "message": message, **way_back(request)},
        status=400,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without a valid CSRF token: most often a page left open past the end of
    its session, or opened before signing in again elsewhere. Reloading the form gives it a
    fresh token."""
    if not in_office(request):
        return _public_page(
            request,
            "The form has expired",
            "The form was sent from a page that was open too long, or without cookies. "
            "Reload the page and send the form again.",
            403,
        )
    links = way_back(request)
    # The form is on the page the visitor came from; a form posts to its own page but for
    # the actions sent from a record's page, which answer POST only.
    form_url = links.pop("back_url", "") or request.get_full_path()
    return render(request, "web/csrf_failure.html", {"form_url": form_url, **links}, status=403)
