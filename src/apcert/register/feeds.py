"""Feeds of status changes in the public register.

Every change of status of a public certificate (a grant, a suspension, a restoration, a
withdrawal, a cancellation, an expiry), newest first by the day it took effect, then by its
id; as Atom (``django.contrib.syndication`` with ``Atom1Feed``) and as JSON Feed 1.1. Each
entry names the certificate, its holder (as the latest issue names it), its CB, the statuses
before and after, the day and the public reason category; never the free-text reason, which
is private and is not even read. A certificate transferred to another CB
names the other certificate both ways (Atom: a ``related`` link; JSON Feed: under
``_apcert``; both: in the summary).

Filters (query parameters, each optional): ``cb`` (a CB code), ``country`` (the holder's
country on the latest issue, ISO 3166-1 alpha-2), ``category`` (a process category code on a
scope line of the latest issue, the code itself, not its sub-categories), ``holder`` (an
organization id). ``limit`` takes 1 to LIMIT_MAX entries (LIMIT_DEFAULT by default). The
country and category are looked up in the register's search index
(:class:`apcert.register.models.SearchFacet`), which holds exactly those values.

A change that the calendar made (an expiry, a suspension for a missed surveillance window,
a withdrawal at the end of the maximum suspension) is in the feed from the day it took
effect, marked as not yet recorded until the register's daily check records it; once
recorded it is the recorded change alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.contrib.syndication.views import Feed
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape

from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.core.errors import DomainError
from apcert.register import selectors
from apcert.register.models import SearchEntry, SearchFacet
from apcert.register.status_today import NOT_YET_RECORDED, stale_statuses, unrecorded_changes
from apcert.schemes.models import ProcessCategory

LIMIT_DEFAULT = 100
LIMIT_MAX = 500
#: The query parameters a feed takes; any other is refused, so that a misspelt filter cannot
#: silently give the unfiltered feed.
PARAMETERS = ("cb", "country", "category", "holder", "limit")
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
JSON_FEED_CONTENT_TYPE = "application/feed+json; charset=utf-8"
FEED_TITLE = "IECQ AP register: status changes"
FEED_AUTHOR = "apcert public register"

_COUNTRY = re.compile(r"[A-Z]{2}")
_REASON_LABELS = dict(StatusReason.choices)


class InvalidFeedRequest(DomainError):
    """A feed parameter that cannot be used: unknown, malformed, or naming nothing public."""

    code = "feed.invalid"
    http_status = 400


@dataclass(frozen=True)
class FeedQuery:
    """What a feed was asked for, checked. Empty strings and None mean "any"."""

    cb: str = ""
    country: str = ""
    category: str = ""
    holder: int | None = None
    limit: int = LIMIT_DEFAULT

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> FeedQuery:
        """Read and check the query parameters; :class:`InvalidFeedRequest` names the
        first one that cannot be used. Codes are matched whatever their case."""
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            taken = ", ".join(PARAMETERS)
            raise InvalidFeedRequest(
                f"{unknown[0][:40]}: not a parameter of this feed (it takes {taken})."
            )
        values = {name: (params.get(name) or "").strip() for name in PARAMETERS}
        cb = raw = values["cb"]
        if raw:
            found = CertificationBody.objects.filter(code__iexact=raw).first()
            if found is None:
                raise InvalidFeedRequest(f"cb: there is no certification body {_shown(raw)}.")
            cb = found.code
        raw = values["country"]
        country = raw.upper()
        if country and not _COUNTRY.fullmatch(country):
            raise InvalidFeedRequest(
                f"country: a two-letter ISO 3166-1 code such as DE, not {_shown(raw)}."
            )
        category = raw = values["category"]
        if raw:
            code = (
                ProcessCategory.objects.filter(code__iexact=raw)
                .values_list("code", flat=True)
                .first()
            )
            if code is None:
                raise InvalidFeedRequest(f"category: there is no process category {_shown(raw)}.")
            category = code
        holder = _whole_number(values["holder"], "holder", 1, None)
        # An organization that holds no public certificate is not in the register: the feed
        # answers as if it did not exist, so that it cannot reveal who has applied.
        if (
            holder is not None
            and not selectors.public_certificates().filter(organization_id=holder).exists()
        ):
            raise InvalidFeedRequest(f"holder: no holder {holder} in the public register.")
        limit = _whole_number(values["limit"], "limit", 1, LIMIT_MAX)
        return cls(
            cb=cb,
            country=country,
            category=category,
            holder=holder,
            limit=LIMIT_DEFAULT if limit is None else limit,
        )

    def describe(self) -> str:
        """The filters in words, for the feed's title ("" when there is none)."""
        parts = []
        if self.cb:
            parts.append(f"CB {self.cb}")
        if self.country:
            parts.append(f"holders in {self.country}")
        if self.category:
            parts.append(f"category {self.category}")
        if self.holder is not None:
            parts.append(f"holder {self.holder}")
        return ", ".join(parts)


def _shown(raw: str) -> str:
    """A value as a message quotes it: cut short, so that a message stays a message."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def _whole_number(raw: str, name: str, low: int, high: int | None) -> int | None:
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidFeedRequest(f"{name}: a whole number, not {_shown(raw)}.")
    if len(raw) > 18:  # no id is that large (a 64-bit column), nor any limit
        raise InvalidFeedRequest(f"{name}: at most 18 digits, not {_shown(raw)}.")
    value = int(raw)
    if high is None and value < low:
        raise InvalidFeedRequest(f"{name}: at least {low}, not {value}.")
    if high is not None and not low <= value <= high:
        raise InvalidFeedRequest(f"{name}: from {low} to {high}, not {value}.")
    return value


def _with_facet(facet: str, value: str) -> QuerySet[SearchFacet, Any]:
    """The certificates whose search-index entry has this filter value. The index holds the
    holder's country and the scope lines' categories of each public certificate's latest
    issue, kept in step by every certificate change in its own transaction (and rebuilt
    after a bulk load): an indexed lookup, where reading the issues' JSON would mean
    decoding every latest issue of the register."""
    return SearchFacet.objects.filter(facet=facet, value=value).values("entry_id")


def status_changes(query: FeedQuery) -> QuerySet[CertificateStatusChange]:
    """The status changes of public certificates that the query selects, newest first; only
    public columns are read."""
    # Not a draft is the same as a public status (the status column's check constraint
    # allows nothing else; a test holds PUBLIC_STATUSES to it). Written as an exclusion, it
    # lets SQLite walk the effective_on index newest first and stop at the limit, where
    # ``status IN (...)`` would have it read every certificate through the status index and
    # sort all their changes (about 160 ms against 4 ms for 100,000 certificates).
    changes = CertificateStatusChange.objects.exclude(certificate__status=CertificateStatus.DRAFT)
    if query.cb:
        changes = changes.filter(certificate__cb__code=query.cb)
    if query.holder is not None:
        changes = changes.filter(certificate__organization_id=query.holder)
    if query.country:
        changes = changes.filter(certificate_id__in=_with_facet("country", query.country))
    if query.category:
        changes = changes.filter(certificate_id__in=_with_facet("category", query.category))
    return (
        changes.select_related("certificate__cb")
        .only(
            "id",
            "from_status",
            "to_status",
            "effective_on",
            "reason_category",
            "certificate__id",
            "certificate__number",
            "certificate__cb__id",
            "certificate__cb__code",
            "certificate__cb__name",
        )
        .order_by("-effective_on", "-id")
    )


@dataclass(frozen=True)
class FeedEntry:
    """One status change as the feeds show it: public fields only."""

    id: int
    number: str
    holder_name: str
    cb_code: str
    cb_name: str
    from_status: str
    to_status: str
    effective_on: dt.date
    reason_category: str
    transferred_from: str | None = None
    transferred_to: str | None = None
    #: False for a change the calendar made that the daily check has not recorded yet.
    recorded: bool = True

    @property
    def anchor(self) -> str:
        """The entry's fragment in its guid. A change not yet recorded has no id yet: it is
        named by what it does and when."""
        if self.recorded:
            return f"status-change-{self.id}"
        return f"status-change-{self.to_status}-{self.effective_on.isoformat()}"

    @property
    def reason_label(self) -> str:
        return str(_REASON_LABELS.get(self.reason_category, self.reason_category))

    @property
    def path(self) -> str:
        """The certificate's public page."""
        return certificate_path(self.number)

    @property
    def title(self) -> str:
        title = f"{self.number}: {self.from_status} to {self.to_status}"
        return title if self.recorded else f"{title} (not yet recorded)"

    @property
    def summary(self) -> str:
        text = (
            f"Certificate {self.number} of {self.holder_name}, issued by {self.cb_name} "
            f"({self.cb_code}), changed from {self.from_status} to {self.to_status} on "
            f"{self.effective_on.isoformat()}. Reason: {self.reason_label}."
        )
        if self.transferred_from:
            text += f" It was transferred from certificate {self.transferred_from}."
        if self.transferred_to:
            text += f" It was transferred to certificate {self.transferred_to}."
        return text if self.recorded else f"{text} {NOT_YET_RECORDED}"

    @property
    def moment(self) -> dt.datetime:
        """The day it took effect, as the start of that day in UTC (feeds want times)."""
        return dt.datetime.combine(self.effective_on, dt.time(0), tzinfo=dt.UTC)


def certificate_path(number: str) -> str:
    return f"/certificates/{quote(number, safe='')}"


def _feed_certificates(query: FeedQuery) -> QuerySet[Certificate]:
    """The public certificates whose changes the query selects."""
    certificates = selectors.public_certificates()
    if query.cb:
        certificates = certificates.filter(cb__code=query.cb)
    if query.holder is not None:
        certificates = certificates.filter(organization_id=query.holder)
    if query.country:
        certificates = certificates.filter(pk__in=_with_facet("country", query.country))
    if query.category:
        certificates = certificates.filter(pk__in=_with_facet("category", query.category))
    return certificates


def _unrecorded_entries(query: FeedQuery) -> list[FeedEntry]:
    """The changes the calendar has made to the query's certificates and the daily check
    has not recorded yet: one query for the few such certificates, one more for their
    numbers and CBs when there are any."""
    stale = stale_statuses(timezone.localdate(), _feed_certificates(query))
    if not stale:
        return []
    rows = Certificate.objects.filter(pk__in=stale).values_list(
        "pk", "number", "cb__code", "cb__name"
    )
    return [
        FeedEntry(
            id=0,
            number=number,
            holder_name="",
            cb_code=cb_code,
            cb_name=cb_name,
            from_status=change.from_status,
            to_status=change.to_status,
            effective_on=change.effective_on,
            reason_category=change.reason_category,
            recorded=False,
        )
        for pk, number, cb_code, cb_name in rows
        for change in unrecorded_changes(stale[pk].stored, stale[pk].today)
    ]


def feed_entries(query: FeedQuery) -> list[FeedEntry]:
    """The entries of a feed: the recorded changes, then their holders' names as the
    search index holds them (from each certificate's latest issue) and their transfer links,
    and the changes the calendar made that are not recorded yet (:func:`_unrecorded_entries`;
    a calendar change is never a transfer, so those need no links of their own)."""
    changes = list(status_changes(query)[: query.limit])
    pending = _unrecorded_entries(query)
    ids = {change.certificate_id for change in changes}
    holders = dict(
        SearchEntry.objects.filter(pk__in=ids).values_list("certificate_id", "holder_name")
    )
    found = selectors.transfer_links(ids)
    transfers = {pk: found.get(pk, selectors.NO_TRANSFER) for pk in ids}
    recorded = [
        FeedEntry(
            id=change.pk,
            number=change.certificate.number,
            holder_name=holders.get(change.certificate_id, ""),
            cb_code=change.certificate.cb.code,
            cb_name=change.certificate.cb.name,
            from_status=change.from_status,
            to_status=change.to_status,
            effective_on=change.effective_on,
            reason_category=change.reason_category,
            transferred_from=transfers[change.certificate_id].transferred_from,
            transferred_to=transfers[change.certificate_id].transferred_to,
        )
        for change in changes
    ]
    if not pending:
        return recorded
    names = dict(
        SearchEntry.objects.filter(number__in={e.number for e in pending}).values_list(
            "number", "holder_name"
        )
    )
    pending = [dataclasses.replace(e, holder_name=names.get(e.number, "")) for e in pending]
    # Newest first, a change not yet recorded before those recorded on its day.
    merged = sorted(
        [*recorded, *pending],
        key=lambda e: (e.effective_on, not e.recorded, e.id),
        reverse=True,
    )
    return merged[: query.limit]


# --- rendering --------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """An entry with its absolute link, which the feed classes cannot build themselves."""

    entry: FeedEntry
    url: str

    @property
    def guid(self) -> str:
        return f"{self.url}#{self.entry.anchor}"

    def url_of(self, number: str) -> str:
        """The absolute link of another certificate's page, on the same site as ``url``."""
        return self.url.removesuffix(self.entry.path) + certificate_path(number)

    def transfer_link(self, number: str | None) -> dict[str, str] | None:
        return None if number is None else {"number": number, "url": self.url_of(number)}

    @property
    def related(self) -> list[tuple[str, str]]:
        """(title, url) of the certificates this one was transferred from and to."""
        out = []
        if self.entry.transferred_from:
            number = self.entry.transferred_from
            out.append((f"transferred from {number}", self.url_of(number)))
        if self.entry.transferred_to:
            number = self.entry.transferred_to
            out.append((f"transferred to {number}", self.url_of(number)))
        return out


@dataclass(frozen=True)
class FeedPage:
    """Everything one answer of a feed needs."""

    query: FeedQuery
    items: list[FeedItem]
    home_url: str
    feed_url: str

    @property
    def title(self) -> str:
        described = self.query.describe()
        return f"{FEED_TITLE} ({described})" if described else FEED_TITLE

    @property
    def description(self) -> str:
        return (
            f"The latest {self.query.limit} status changes of certificates in the public "
            "IECQ Approved Process register, newest first."
        )


class _AtomWithRelated(Atom1Feed):
    """Atom, with a ``related`` link per certificate an entry's certificate was transferred
    from or to."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        for title, url in item.get("related", ()):
            handler.addQuickElement("link", "", {"rel": "related", "href": url, "title": title})


class StatusChangeAtomFeed(Feed):
    """The Atom feed. ``__call__(request, page=FeedPage(...))``."""

    feed_type = _AtomWithRelated
    language = "en"
    author_name = FEED_AUTHOR

    def get_object(self, request: Any, *args: Any, **kwargs: Any) -> FeedPage:
        page: FeedPage = kwargs["page"]
        return page

    def title(self, page: FeedPage) -> str:
        return page.title

    def subtitle(self, page: FeedPage) -> str:
        return page.description

    def link(self, page: FeedPage) -> str:
        return page.home_url

    def feed_url(self, page: FeedPage) -> str:
        return page.feed_url

    def feed_guid(self, page: FeedPage) -> str:
        return page.feed_url

    def items(self, page: FeedPage) -> list[FeedItem]:
        return page.items

    def item_title(self, item: FeedItem) -> str:
        return item.entry.title

    def item_description(self, item: FeedItem) -> str:
        return escape(item.entry.summary)  # Atom1Feed writes it as a summary of type html

    def item_link(self, item: FeedItem) -> str:
        return item.url

    def item_guid(self, item: FeedItem) -> str:
        return item.guid

    def item_pubdate(self, item: FeedItem) -> dt.datetime:
        return item.entry.moment

    def item_updateddate(self, item: FeedItem) -> dt.datetime:
        return item.entry.moment

    def item_author_name(self, item: FeedItem) -> str:
        return item.entry.cb_name

    def item_categories(self, item: FeedItem) -> list[str]:
        return [item.entry.to_status, item.entry.reason_category]

    def item_extra_kwargs(self, item: FeedItem) -> dict[str, Any]:
        return {"related": item.related}


ATOM_FEED = StatusChangeAtomFeed()


def json_feed(page: FeedPage) -> dict[str, Any]:
    """The JSON Feed 1.1 document. Each item carries the change's public fields under
    ``_apcert`` (JSON Feed's place for extensions)."""
    return {
        "version": JSON_FEED_VERSION,
        "title": page.title,
        "home_page_url": page.home_url,
        "feed_url": page.feed_url,
        "description": page.description,
        "language": "en",
        "authors": [{"name": FEED_AUTHOR}],
        "items": [
            {
                "id": item.guid,
                "url": item.url,
                "title": item.entry.title,
                "content_text": item.entry.summary,
                "date_published": item.entry.moment.isoformat().replace("+00:00", "Z"),
                "authors": [{"name": item.entry.cb_name}],
                "tags": [item.entry.to_status, item.entry.reason_category],
                "_apcert": {
                    "certificate": item.entry.number,
                    "holder_name": item.entry.holder_name,
                    "cb": {"code": item.entry.cb_code, "name": item.entry.cb_name},
                    "from_status": item.entry.from_status,
                    "to_status": item.entry.to_status,
                    "effective_on": item.entry.effective_on.isoformat(),
                    "reason_category": item.entry.reason_category,
                    "reason_category_label": item.entry.reason_label,
                    "transferred_from": item.transfer_link(item.entry.transferred_from),
                    "transferred_to": item.transfer_link(item.entry.transferred_to),
                    "recorded": item.entry.recorded,
                },
            }
            for item in page.items
        ],
    }


__all__ = [
    "ATOM_FEED",
    "JSON_FEED_CONTENT_TYPE",
    "JSON_FEED_VERSION",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "FeedEntry",
    "FeedItem",
    "FeedPage",
    "FeedQuery",
    "InvalidFeedRequest",
    "StatusChangeAtomFeed",
    "certificate_path",
    "feed_entries",
    "json_feed",
    "status_changes",
]
