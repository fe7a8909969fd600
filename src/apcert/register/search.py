"""Searching the public register (issue 4, points 1 and 4).

One selector, :func:`search`, answers every search: the pages, the API and the benchmarks call
it. It reads only the search index (:mod:`apcert.register.index`), which holds public fields
alone and is kept in step with every certificate change in the change's own transaction. On
SQLite the words are matched by FTS5, on PostgreSQL by a ``tsvector`` column with a GIN index;
typos are corrected on both through a trigram index over the indexed words (FTS5 ``trigram``
tokenizer, ``pg_trgm``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.core.errors import DomainError

#: The filters a search can take, in the order pages show them.
FACETS: tuple[str, ...] = (
    "status",
    "scheme",
    "programme",
    "category",
    "standard",
    "country",
    "cb",
)
#: How results can be ordered. ``relevance`` needs search words; without them it is ``number``.
SORTS: tuple[str, ...] = ("relevance", "number", "holder", "expires", "changed")
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
#: Beyond this many matches the total is given as "more than" and no counts per filter value
#: are computed: counting a million rows per keystroke is not worth the wait.
COUNT_LIMIT = 10_000
MAX_PAGE = COUNT_LIMIT // PER_PAGE_DEFAULT
TEXT_MAX = 200


class InvalidSearch(DomainError):
    """A search parameter that cannot be used (unknown sort or status, a page out of range)."""

    code = "search.invalid"


@dataclass(frozen=True)
class SearchQuery:
    """What was asked. Empty strings mean "any"."""

    text: str = ""
    status: str = ""
    scheme: str = ""
    programme: str = ""
    category: str = ""
    standard: str = ""
    country: str = ""
    cb: str = ""
    sort: str = "relevance"
    page: int = 1
    per_page: int = PER_PAGE_DEFAULT

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        """Build a query from URL parameters (``q`` for the words), refusing bad values with
        :class:`InvalidSearch` and a message naming the parameter."""
        text = (params.get("q") or "").strip()
        if len(text) > TEXT_MAX:
            raise InvalidSearch(f"q: at most {TEXT_MAX} characters.", code="search.invalid")
        values: dict[str, object] = {"text": " ".join(text.split())}
        for name in FACETS:
            values[name] = (params.get(name) or "").strip()
        status = str(values["status"])
        if status and status not in PUBLIC_STATUSES:
            raise InvalidSearch(
                f"status: one of {', '.join(PUBLIC_STATUSES)}.", code="search.invalid"
            )
        sort = (params.get("sort") or "relevance").strip()
        if sort not in SORTS:
            raise InvalidSearch(f"sort: one of {', '.join(SORTS)}.", code="search.invalid")
        values["sort"] = sort
        values["page"] = _int_param(params, "page", 1, 1, MAX_PAGE)
        values["per_page"] = _int_param(params, "per_page", PER_PAGE_DEFAULT, 1, PER_PAGE_MAX)
        return cls(**values)  # type: ignore[arg-type]

    def to_params(self) -> dict[str, str]:
        """The URL parameters that ask this query again (defaults left out)."""
        out: dict[str, str] = {}
        if self.text:
            out["q"] = self.text
        for name in FACETS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.sort != "relevance":
            out["sort"] = self.sort
        if self.page != 1:
            out["page"] = str(self.page)
        if self.per_page != PER_PAGE_DEFAULT:
            out["per_page"] = str(self.per_page)
        return out

    def with_(self, **changes: object) -> SearchQuery:
        """This query with some values changed (the page back to 1 unless given)."""
        changes.setdefault("page", 1)
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def filters(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FACETS if getattr(self, name)}


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidSearch(f"{name}: a whole number.", code="search.invalid") from None
    if not low <= value <= high:
        raise InvalidSearch(f"{name}: from {low} to {high}.", code="search.invalid")
    return value


@dataclass(frozen=True)
class SearchHit:
    """One certificate in a result list: public fields only."""

    number: str
    holder_name: str
    country: str
    organization_id: int
    cb_code: str
    cb_name: str
    scheme_code: str
    programmes: tuple[str, ...]
    status: str
    status_since: dt.date
    expires_on: dt.date
    cities: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    query: SearchQuery
    hits: list[SearchHit]
    #: Matches in all; a lower bound when ``total_exact`` is false (more than COUNT_LIMIT).
    total: int
    total_exact: bool
    #: Counts per filter value among the matches, each facet ordered by count. Empty when
    #: the matches are too many to count (``total_exact`` false).
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    #: The words actually searched when some were corrected for typos, else None.
    corrected: str | None = None

    @property
    def pages(self) -> int:
        return max(1, min(MAX_PAGE, math.ceil(self.total / self.query.per_page)))


QUERY_FIELDS = tuple(f.name for f in fields(SearchQuery))
