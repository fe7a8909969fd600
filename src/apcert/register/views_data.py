"""Open data of the public register: the bulk exports and the status-change feeds.

No account, no cookies, nothing recorded of who asks. The views
parse the request, call :mod:`apcert.register.exports` or :mod:`apcert.register.feeds`, and
answer; a parameter that cannot be used is a 400 with a plain-text message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from apcert.audit.published import audit_head_current
from apcert.register import exports, feeds, kept_exports, limits
from apcert.register.caching import public_cache

log = logging.getLogger(__name__)

#: Seconds a cache may keep the published audit head: short, so that a copy a restore
#: compares with is at most this far behind.
AUDIT_HEAD_MAX_AGE = 10


def _export(request: HttpRequest, export_format: exports.ExportFormat) -> HttpResponseBase:
    """The export, from the file kept for the register's current version, or from its
    build under way (:mod:`apcert.register.kept_exports`); read from the register in the
    request where no exports are kept (``KEPT_EXPORTS_DIR`` is None). Either way the answer
    holds an export slot while it is sent (:func:`apcert.register.limits.export_slot`)."""
    # A HEAD request gets the headers alone, without reading the register.
    chunks: Iterator[str] | Iterator[bytes] = iter(())
    length: int | None = None
    today = timezone.localdate()
    if request.method != "HEAD":
        refused = limits.export_slot(request)
        if refused is not None:
            return refused
        directory = settings.KEPT_EXPORTS_DIR
        source: kept_exports.KeptFile | kept_exports.GrowingFile | None = None
        if directory is not None:
            try:
                source = kept_exports.opened(
                    kept_exports.current(Path(directory), export_format.name, today)
                )
            except OSError as exc:
                # The directory cannot be made or read (a full or read-only disk): the
                # export is read in the request, as where none are kept, and the cause
                # is logged for the operator.
                log.warning(
                    "exports cannot be kept in %s (%s): read in the request", directory, exc
                )
                directory = None
            except BaseException:
                limits.give_back_export_slot()
                raise
            if directory is not None and source is None:
                limits.give_back_export_slot()
                return limits.busy("The export is being prepared.", limits.EXPORT_PREPARING_SECONDS)
        if source is None:
            chunks = limits.sent_with_slot(export_format.chunks())
        else:
            chunks = limits.sent_with_slot(source)
            length = source.length
    response = StreamingHttpResponse(chunks, content_type=export_format.content_type)
    if length is not None:
        response["Content-Length"] = str(length)
    filename = export_format.filename(today)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_safe
@public_cache()
def export_csv(request: HttpRequest) -> HttpResponseBase:
    """Every public certificate, one CSV row each (columns: exports.CSV_COLUMNS)."""
    return _export(request, exports.FORMATS["csv"])


@require_safe
@public_cache()
def export_jsonl(request: HttpRequest) -> HttpResponseBase:
    """Every public certificate, one JSON document a line (the API's certificate answer)."""
    return _export(request, exports.FORMATS["jsonl"])


def _bad_request(error: feeds.InvalidFeedRequest) -> HttpResponse:
    return HttpResponseBadRequest(error.message, content_type="text/plain; charset=utf-8")


def _feed_page(request: HttpRequest, query: feeds.FeedQuery) -> feeds.FeedPage:
    entries = feeds.feed_entries(query)
    return feeds.FeedPage(
        query=query,
        items=[feeds.FeedItem(e, request.build_absolute_uri(e.path)) for e in entries],
        home_url=request.build_absolute_uri("/"),
        feed_url=request.build_absolute_uri(),
    )


@require_safe
@public_cache()
def feed_atom(request: HttpRequest) -> HttpResponse:
    """The status-change feed as Atom."""
    try:
        query = feeds.FeedQuery.from_params(request.GET)
    except feeds.InvalidFeedRequest as error:
        return _bad_request(error)
    response: HttpResponse = feeds.ATOM_FEED(request, page=_feed_page(request, query))
    return response


@require_safe
@public_cache()
def feed_json(request: HttpRequest) -> HttpResponse:
    """The status-change feed as JSON Feed 1.1."""
    try:
        query = feeds.FeedQuery.from_params(request.GET)
    except feeds.InvalidFeedRequest as error:
        return _bad_request(error)
    body = json.dumps(feeds.json_feed(_feed_page(request, query)), ensure_ascii=False)
    return HttpResponse(body, content_type=feeds.JSON_FEED_CONTENT_TYPE)


@require_safe
@cache_control(public=True, max_age=AUDIT_HEAD_MAX_AGE)
def audit_head(request: HttpRequest) -> HttpResponse:
    """The audit chain's last event (seq, hash, and when read), read from the database on
    each request: what ``apcert restore --published-head`` compares a backup with."""
    body = json.dumps(audit_head_current().as_json())
    return HttpResponse(body, content_type="application/json")
