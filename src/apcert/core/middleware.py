"""Request guards shared by every page."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RefuseNulMiddleware:
    """Answer 400 to a request whose path or query holds a NUL character.

    No value in the register holds one, and PostgreSQL refuses to compare text with it (a
    ``DataError``, which would be a 500): the request is refused before any view reads it.
    The public API gives its own problem JSON for the same case first.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)  # the API answers with its own problem JSON
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in unquote(query):
            return HttpResponseBadRequest(
                "The address holds a NUL character (%00), which no value in the register has.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


#: Room in a request body for the form around the largest file accepted.
FORM_MARGIN_BYTES = 1024 * 1024


class RefuseOversizedBodyMiddleware:
    """Answer 413 to a request whose declared body is larger than the largest evidence file
    plus its form, before anything reads the body.

    Django writes an uploaded file of more than 2.5 MB to a temporary file as it reads it,
    and the CSRF check reads the whole form before any view can look at the file's size: a
    very large upload would fill the temporary directory first and be refused only after.
    The declared length is what the server will deliver (a body is never read past it), so
    refusing on it bounds what one request can write. The size each kind of file is allowed
    is still checked by its own view or service, with its own message.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings

        limit = int(settings.EVIDENCE_MAX_BYTES) + FORM_MARGIN_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return HttpResponse(
                f"The request is larger than {limit // (1024 * 1024)} MB, more than any file "
                "apcert accepts. Send a smaller file (a compressed PDF, a lower image "
                "resolution), or split it.",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
