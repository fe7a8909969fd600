"""Downloading an evidence file. Routed by the project's urlconf; writes nothing."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from apcert.assessments.errors import EVIDENCE_REMOVED
from apcert.assessments.evidence import evidence_open
from apcert.core.errors import NotFound, PermissionDenied


@require_safe
def evidence_download(
    request: HttpRequest, evidence_id: int
) -> StreamingHttpResponse | HttpResponse:
    """The file, as an attachment, to a user who may see it; 404 to anyone else, signed in
    or not, exactly as for an id that does not exist (the back office sends anonymous
    visitors to sign in before they get here; one who gets here anyway learns nothing).
    A file its uploader removed is 410 Gone to the organization, which may know of it.
    The content is streamed from the database a chunk at a time, never held whole."""
    user = request.user
    try:
        download = evidence_open(
            actor=user if user.is_authenticated else None,
            evidence=evidence_id,
        )
    except NotFound as exc:
        if exc.code == EVIDENCE_REMOVED:
            gone = HttpResponse(exc.message, status=410, content_type="text/plain; charset=utf-8")
            gone["Cache-Control"] = "private, no-store"
            return gone
        raise Http404("No such evidence file.") from None
    except PermissionDenied:
        raise Http404("No such evidence file.") from None
    response = StreamingHttpResponse(download.chunks, content_type=download.content_type)
    response["Content-Length"] = str(download.size)
    disposition = content_disposition_header(as_attachment=True, filename=download.download_name)
    if disposition:  # always, for an attachment
        response["Content-Disposition"] = disposition
    # Never rendered by the browser as anything but a download of the detected type, never
    # kept by a shared cache: evidence is private.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
