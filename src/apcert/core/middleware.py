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
