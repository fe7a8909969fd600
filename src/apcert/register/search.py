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
from typing import Any

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
        if any("\x00" in str(value) for value in params.values()):
            raise InvalidSearch("A parameter holds a NUL character.", code="search.invalid")
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
    #: the matches are more than FACET_LIMIT (a search with no words and no filters always
    #: has them: the index keeps those totals).
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    #: The words actually searched when some were corrected for typos, else None.
    corrected: str | None = None
    #: The last page that can be asked for (relevance is ranked over RANK_LIMIT matches).
    last_page: int = MAX_PAGE

    @property
    def pages(self) -> int:
        return max(1, min(self.last_page, math.ceil(self.total / self.query.per_page)))


QUERY_FIELDS = tuple(f.name for f in fields(SearchQuery))


# --- the search ---------------------------------------------------------------------------

#: Relevance is ranked over at most this many matches (ranking every match of a common word
#: costs far more than the page is worth); pages of a relevance search end there.
RANK_LIMIT = 2_000
#: Counts per filter value are computed when the matches are at most this many.
FACET_LIMIT = 2_000
#: Typo correction: the largest edit distance accepted, by word length.
_TYPO_DISTANCE = ((4, 1), (7, 2))
_ORDER = {
    "number": "e.number",
    "holder": "e.holder_key, e.number",
    "expires": "e.expires_on, e.number",
    "changed": "e.status_since DESC, e.number",
}


@dataclass(frozen=True)
class _Words:
    """The search words, folded, each with the indexed words it stands for."""

    groups: tuple[tuple[str, ...], ...]
    corrected: str | None

    def fts5(self) -> str:
        def term(word: str) -> str:
            return f'"{word}"*' if len(word) >= 3 else f'"{word}"'

        parts = []
        for group in self.groups:
            alternatives = [term(w) for w in group]
            parts.append(
                alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
            )
        return " AND ".join(parts)

    def tsquery(self) -> str:
        def term(word: str) -> str:
            return f"{word}:*" if len(word) >= 3 else word

        parts = []
        for group in self.groups:
            alternatives = [term(w) for w in group]
            parts.append(
                alternatives[0] if len(alternatives) == 1 else f"({' | '.join(alternatives)})"
            )
        return " & ".join(parts)


def _max_distance(word: str) -> int:
    allowed = 0
    for length, distance in _TYPO_DISTANCE:
        if len(word) >= length:
            allowed = distance
    return allowed


def _known_prefix(word: str) -> bool:
    from apcert.register.models import SearchWord

    return SearchWord.objects.filter(word__gte=word, word__lt=word + "\uffff").exists()


def _similar_words(word: str) -> list[str]:
    """Indexed words within the allowed edit distance of ``word``, closest first (at most 3).
    Candidates come from the trigram index; a swap of two letters counts as one edit."""
    from django.db import connection
    from rapidfuzz.distance import OSA

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT word FROM register_searchword WHERE word %% %s"
                " ORDER BY similarity(word, %s) DESC LIMIT 50",
                [word, word],
            )
        else:
            grams = sorted({word[i : i + 3] for i in range(len(word) - 2)})
            if not grams:
                return []
            cursor.execute(
                "SELECT word FROM register_search_words WHERE register_search_words MATCH %s"
                " ORDER BY rank LIMIT 50",
                [" OR ".join(f'"{g}"' for g in grams)],
            )
        candidates = {row[0] for row in cursor.fetchall()}
    # A swap of two letters in a short word can leave it no trigram in common with the word
    # meant ("untied", "united"); words that begin alike are candidates too.
    from apcert.register.models import SearchWord

    start = word[:2]
    candidates.update(
        SearchWord.objects.filter(word__gte=start, word__lt=start + "\uffff")
        .order_by("word")
        .values_list("word", flat=True)[:300]
    )
    limit = _max_distance(word)
    scored = sorted((OSA.distance(word, c, score_cutoff=limit), c) for c in candidates if c != word)
    return [c for d, c in scored if d <= limit][:3]


def _words(text: str) -> _Words | None:
    from apcert.register.index import fold

    folded = fold(text).split()
    if not folded:
        return None
    groups: list[tuple[str, ...]] = []
    corrected: list[str] = []
    changed = False
    for word in folded[:12]:
        if word.isalpha() and _max_distance(word) and not _known_prefix(word):
            similar = _similar_words(word)
            if similar:
                groups.append(tuple(similar))
                corrected.append(similar[0])
                changed = True
                continue
        groups.append((word,))
        corrected.append(word)
    return _Words(tuple(groups), " ".join(corrected) if changed else None)


def _match_sql(words: _Words) -> tuple[str, list[Any]]:
    """SQL giving (id, score) for every entry matching the words; a lower score is better."""
    from django.db import connection

    if connection.vendor == "postgresql":
        query = words.tsquery()
        return (
            "SELECT entry_id AS id, -ts_rank(document, to_tsquery('simple', %s)) AS score"
            " FROM register_search_doc WHERE document @@ to_tsquery('simple', %s)",
            [query, query],
        )
    return (
        "SELECT rowid AS id, bm25(register_search_fts, 8.0, 4.0, 2.0, 1.0) AS score"
        " FROM register_search_fts WHERE register_search_fts MATCH %s",
        [words.fts5()],
    )


def _filter_sql(query: SearchQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for facet, value in query.filters.items():
        clauses.append(
            "e.certificate_id IN (SELECT entry_id FROM register_searchfacet"
            " WHERE facet = %s AND value = %s)"
        )
        params.extend([facet, value])
    return (" AND ".join(clauses) or "1 = 1"), params


def _scalar(sql: str, params: list[Any]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _column(sql: str, params: list[Any]) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(row[0]) for row in cursor.fetchall()]


def search(query: SearchQuery) -> SearchResult:
    """Search the public register: words (holder name, certificate number, city, scope
    words; case, accents and small typos do not matter), filters, counts per filter value,
    a page of results in the order asked. Exact number first, then holder name, when
    ordered by relevance."""
    from apcert.register.index import fold, number_key

    words = _words(query.text)
    where, params = _filter_sql(query)
    offset = (query.page - 1) * query.per_page
    if words is None:
        source, source_params = "register_searchentry e", []
    else:
        match, match_params = _match_sql(words)
        key = number_key(query.text)
        if _looks_like_number(key):
            # A number typed without its spaces or dots ("IECQAXX260001") is not the words
            # of the indexed number: find it by its key too, ahead of any word match.
            match = (
                f"SELECT id, min(score) AS score FROM ({match} UNION ALL"
                " SELECT certificate_id AS id, -1000000.0 AS score FROM register_searchentry"
                " WHERE number_key = %s) u GROUP BY id"
            )
            match_params = [*match_params, key]
        source = f"({match}) m JOIN register_searchentry e ON e.certificate_id = m.id"
        source_params = list(match_params)

    counted = _scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {where} LIMIT %s) t",
        [*source_params, *params, COUNT_LIMIT + 1],
    )
    total_exact = counted <= COUNT_LIMIT
    last_page = MAX_PAGE

    if words is not None and query.sort == "relevance":
        folded = words.corrected or fold(query.text)
        ranked = (
            f"SELECT e.certificate_id AS id, m.score AS score, e.holder_key AS holder_key,"
            f" e.number AS number, CASE WHEN e.number_key = %s THEN 0"
            f" WHEN e.holder_key = %s THEN 1 WHEN e.holder_key LIKE %s THEN 2 ELSE 3 END AS tier"
            f" FROM {source} WHERE {where} LIMIT %s"
        )
        ids = _column(
            f"SELECT id FROM ({ranked}) r ORDER BY tier, score, holder_key, number"
            " LIMIT %s OFFSET %s",
            [
                number_key(query.text),
                folded,
                folded + "%",
                *source_params,
                *params,
                RANK_LIMIT,
                query.per_page,
                offset,
            ],
        )
        last_page = max(1, math.ceil(min(counted, RANK_LIMIT) / query.per_page))
    else:
        order = _ORDER["holder" if query.sort == "relevance" else query.sort]
        ids = _column(
            f"SELECT e.certificate_id FROM {source} WHERE {where} ORDER BY {order}"
            " LIMIT %s OFFSET %s",
            [*source_params, *params, query.per_page, offset],
        )

    facets: dict[str, list[FacetCount]] = {}
    if words is None and not query.filters:
        facets = _facet_totals()
    elif counted <= FACET_LIMIT:
        facets = _facet_counts(
            f"SELECT e.certificate_id FROM {source} WHERE {where}", [*source_params, *params]
        )
    return SearchResult(
        query=query,
        hits=_hits(ids),
        total=counted if total_exact else COUNT_LIMIT,
        total_exact=total_exact,
        facets=facets,
        corrected=words.corrected if words else None,
        last_page=last_page,
    )


def _looks_like_number(key: str) -> bool:
    return len(key) >= 8 and key.startswith("IECQ") and any(c.isdigit() for c in key)


def _hits(ids: list[int]) -> list[SearchHit]:
    from apcert.register.models import SearchEntry

    entries = {e.pk: e for e in SearchEntry.objects.filter(pk__in=ids).defer("document")}
    return [
        SearchHit(
            number=e.number,
            holder_name=e.holder_name,
            country=e.country,
            organization_id=e.organization_id,
            cb_code=e.cb_code,
            cb_name=e.cb_name,
            scheme_code=e.scheme_code,
            programmes=tuple(e.programmes.split()),
            status=e.status,
            status_since=e.status_since,
            expires_on=e.expires_on,
            cities=tuple(c for c in e.cities.split("\n") if c),
            categories=tuple(e.categories.split()),
        )
        for e in (entries[i] for i in ids if i in entries)
    ]


def _facet_totals() -> dict[str, list[FacetCount]]:
    from apcert.register.models import SearchFacetTotal

    rows = SearchFacetTotal.objects.filter(count__gt=0).values_list("facet", "value", "count")
    return _labelled(list(rows))


def _facet_counts(ids_sql: str, params: list[Any]) -> dict[str, list[FacetCount]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT facet, value, count(*) FROM register_searchfacet"
            f" WHERE entry_id IN ({ids_sql}) GROUP BY facet, value",
            params,
        )
        rows = [(str(f), str(v), int(n)) for f, v, n in cursor.fetchall()]
    return _labelled(rows)


def _labelled(rows: list[tuple[str, str, int]]) -> dict[str, list[FacetCount]]:
    from apcert.bodies.models import CertificationBody
    from apcert.certificates.choices import CertificateStatus
    from apcert.schemes.models import ProcessCategory, Programme, Scheme

    wanted: dict[str, set[str]] = {}
    for facet, value, _ in rows:
        wanted.setdefault(facet, set()).add(value)
    labels: dict[str, dict[str, str]] = {
        "status": {s.value: str(s.label) for s in CertificateStatus},
        "scheme": dict(
            Scheme.objects.filter(code__in=wanted.get("scheme", ())).values_list("code", "name")
        ),
        "programme": dict(
            Programme.objects.filter(code__in=wanted.get("programme", ())).values_list(
                "code", "name"
            )
        ),
        "category": dict(
            ProcessCategory.objects.filter(code__in=wanted.get("category", ())).values_list(
                "code", "name"
            )
        ),
        "cb": dict(
            CertificationBody.objects.filter(code__in=wanted.get("cb", ())).values_list(
                "code", "name"
            )
        ),
    }
    out: dict[str, list[FacetCount]] = {name: [] for name in FACETS}
    for facet, value, count in rows:
        label = labels.get(facet, {}).get(value, value)
        out.setdefault(facet, []).append(FacetCount(value=value, label=label, count=count))
    for values in out.values():
        values.sort(key=lambda c: (-c.count, c.label))
    return out


def close_numbers(text: str, limit: int = 5) -> list[str]:
    """Public certificate numbers close to ``text`` (for "no certificate ... did you mean"):
    the same number in other case or spacing first, then those one or two characters away."""
    from rapidfuzz.distance import Levenshtein

    from apcert.register.index import number_key
    from apcert.register.models import SearchEntry

    key = number_key(text)
    if len(key) < 4:
        return []
    stem = key[: max(4, len(key) - 3)]
    candidates = list(
        SearchEntry.objects.filter(number_key__gte=stem, number_key__lt=stem + "\uffff")
        .order_by("number_key")
        .values_list("number_key", "number")[:500]
    )
    scored = sorted(
        (Levenshtein.distance(key, k, score_cutoff=3), number) for k, number in candidates
    )
    return [number for distance, number in scored if distance <= 2][:limit]
