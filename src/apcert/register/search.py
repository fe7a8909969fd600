"""Searching the public register.

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
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.core.db.replicas import reading_connection
from apcert.core.errors import DomainError
from apcert.register.errors import SEARCH_INVALID
from apcert.register.status_today import StaleStatus, stale_statuses
from apcert.register.word_bands import Term, banded_ids_sql, few_matches, word_bands

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
#: How results can be ordered. ``relevance`` needs search words; without them it is
#: ``newest`` (the certificates granted last first).
SORTS: tuple[str, ...] = ("relevance", "newest", "number", "holder", "expires", "changed")
PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
#: Beyond this many matches the total is given as "more than" and no counts per filter value
#: are computed: counting a million rows per keystroke is not worth the wait. At 1,000 the
#: matches of a broad search with filters took a third of its time to read and rank (1M
#: certificates, SQLite), for a total that reads "more than" either way.
COUNT_LIMIT = 500
#: The deepest page of a search (in an order other than relevance, pages walk an index).
MAX_PAGE = 500
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
            raise InvalidSearch("A parameter holds a NUL character.", code=SEARCH_INVALID)
        text = (params.get("q") or "").strip()
        if len(text) > TEXT_MAX:
            raise InvalidSearch(f"q: at most {TEXT_MAX} characters.", code=SEARCH_INVALID)
        values: dict[str, object] = {"text": " ".join(text.split())}
        for name in FACETS:
            values[name] = (params.get(name) or "").strip()
        status = str(values["status"])
        if status and status not in PUBLIC_STATUSES:
            raise InvalidSearch(
                f"status: one of {', '.join(PUBLIC_STATUSES)}.", code=SEARCH_INVALID
            )
        sort = (params.get("sort") or "relevance").strip()
        if sort not in SORTS:
            raise InvalidSearch(f"sort: one of {', '.join(SORTS)}.", code=SEARCH_INVALID)
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
        raise InvalidSearch(f"{name}: a whole number.", code=SEARCH_INVALID) from None
    if not low <= value <= high:
        raise InvalidSearch(f"{name}: from {low} to {high}.", code=SEARCH_INVALID)
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
    #: The numbers of the certificates this one was transferred from and to, if any.
    transferred_from: str | None = None
    transferred_to: str | None = None
    #: False when the status is one the calendar gave the certificate and the register's
    #: daily check has not recorded yet (the index holds the recorded one).
    status_recorded: bool = True


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


# --- the search ---------------------------------------------------------------------------

#: Relevance is ranked over at most this many holder-name matches plus this many matches of
#: any field (ranking every match of a common word costs far more than the page is worth);
#: pages of a relevance search end there.
RANK_LIMIT = 200
#: Counts per filter value are computed when the matches are at most this many (each match
#: costs about ten index lookups): whenever the total is exact.
FACET_LIMIT = COUNT_LIMIT
#: Typo correction: the largest edit distance accepted, by word length.
_TYPO_DISTANCE = ((4, 1), (7, 2))
_ORDER = {
    "newest": "e.certificate_id DESC",
    "number": "e.number",
    "holder": "e.holder_key, e.number",
    "expires": "e.expires_on, e.number",
    "changed": "e.status_since DESC, e.number",
}
_LABELS_TTL = 300.0
_labels_cache: dict[tuple[str, str], tuple[str, float]] = {}


@dataclass(frozen=True)
class _Words:
    """The search words, folded. Each group is one word of the search: the indexed words it
    stands for (itself, or its corrections), and whether it is matched as a prefix."""

    groups: tuple[tuple[tuple[str, ...], bool], ...]
    corrected: str | None
    folded: str

    def fts5(self) -> str:
        parts = []
        for words, prefix in self.groups:
            alternatives = [f'"{w}"*' if prefix else f'"{w}"' for w in words]
            parts.append(
                alternatives[0] if len(alternatives) == 1 else f"({' OR '.join(alternatives)})"
            )
        return " AND ".join(parts)

    def tsquery(self) -> str:
        parts = []
        for words, prefix in self.groups:
            alternatives = [f"{w}:*" if prefix else w for w in words]
            parts.append(
                alternatives[0] if len(alternatives) == 1 else f"({' | '.join(alternatives)})"
            )
        return " & ".join(parts)

    def in_holder(self, holder_key: str) -> bool:
        """Whether every word of the search is a word (the last: the start of a word) of
        the holder name. Called for every match ranked, so whole words are set lookups."""
        names = holder_key.split()
        whole = set(names)
        for words, prefix in self.groups:
            if whole.isdisjoint(words) and not (
                prefix and any(n.startswith(w) for w in words for n in names)
            ):
                return False
        return True


def _max_distance(word: str) -> int:
    allowed = 0
    for length, distance in _TYPO_DISTANCE:
        if len(word) >= length:
            allowed = distance
    return allowed


def _vocabulary(words: list[str]) -> dict[str, str]:
    """For each word, ``exact`` when it is an indexed word, ``prefix`` when it only begins
    some, else ``unknown``: one statement for every word of the search (a range of the
    vocabulary's index each). Plain SQL: this runs for every search, and the ORM's own work
    took longer than the index lookups."""
    unique = list(dict.fromkeys(words))
    if not unique:
        return {}
    probe = (
        "(SELECT word FROM register_searchword WHERE word >= %s AND word < %s"
        " ORDER BY word LIMIT 1)"
    )
    with reading_connection().cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join([probe] * len(unique)),
            [x for word in unique for x in (word, word + "\uffff")],
        )
        found = cursor.fetchone()
    return {
        word: "unknown" if first is None else "exact" if first == word else "prefix"
        for word, first in zip(unique, found, strict=True)
    }


def _similar_words(word: str) -> list[str]:
    """Indexed words within the allowed edit distance of ``word``, closest first (at most 3).
    Candidates come from the trigram index; a swap of two letters counts as one edit."""
    connection = reading_connection()
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
    start = word[:2]
    candidates.update(
        _column_text(
            "SELECT word FROM register_searchword WHERE word >= %s AND word < %s"
            " ORDER BY word LIMIT 300",
            [start, start + "\uffff"],
        )
    )
    limit = _max_distance(word)
    scored = sorted((OSA.distance(word, c, score_cutoff=limit), c) for c in candidates if c != word)
    return [c for d, c in scored if d <= limit][:3]


def _words(text: str) -> _Words | None:
    from apcert.register.index import WORD_MIN, fold

    folded = fold(text).split()[:12]
    if not folded:
        return None
    groups: list[tuple[tuple[str, ...], bool]] = []
    corrected: list[str] = []
    changed = False
    known_words = _vocabulary([w for w in folded if len(w) >= WORD_MIN and not w.isdigit()])
    for word in folded:
        known = known_words.get(word, "unknown")
        if known == "unknown" and word.isalpha() and _max_distance(word):
            similar = _similar_words(word)
            if similar:
                groups.append((tuple(similar), False))
                corrected.append(similar[0])
                changed = True
                continue
        # A whole indexed word matches exactly (a prefix over a million rows merges every
        # word that begins alike); a word known only as the start of others, one still
        # being typed, matches as a prefix.
        prefix = len(word) >= 3 and known == "prefix"
        groups.append(((word,), prefix))
        corrected.append(word)
    folded_text = " ".join(folded)
    return _Words(tuple(groups), " ".join(corrected) if changed else None, folded_text)


class _Stale:
    """The index's entries whose stored status no longer holds today (few: those the
    daily sweep has not recorded yet), and what that does to a status filter: entries
    filed under the status asked for that have left it (``excluded``), and entries whose
    status today is the one asked for (``added``). Everything else the index holds is
    true, so a search corrects by these alone, never by reading the whole register.

    Read when first needed: the whole stale set in one query (a status filter, counts
    over the whole register, the order of the latest change, counts over the matches),
    or, for a few entries only (a page of hits, a number), just those, by primary key."""

    #: Up to this many entries are looked up by primary key rather than through the whole
    #: stale set (a range of the lapses_on index, which reads each stale certificate's row).
    FEW = 64

    def __init__(
        self, filters: Mapping[str, str], *, known: Mapping[int, StaleStatus] | None = None
    ):
        self._status = filters.get("status", "")
        self._entries = known
        self._checked: dict[int, StaleStatus | None] = {}

    @property
    def entries(self) -> Mapping[int, StaleStatus]:
        if self._entries is None:
            self._entries = stale_statuses()
        return self._entries

    def among(self, ids: list[int]) -> Mapping[int, StaleStatus]:
        """The stale entries among ``ids``."""
        if self._entries is None and len(ids) <= self.FEW:
            missing = [i for i in ids if i not in self._checked]
            if missing:
                found = stale_statuses(ids=missing)
                self._checked.update({i: found.get(i) for i in missing})
            return {i: entry for i in ids if (entry := self._checked[i]) is not None}
        entries = self.entries
        return {i: entries[i] for i in ids if i in entries}

    @cached_property
    def excluded(self) -> tuple[int, ...]:
        if not self._status:
            return ()
        return tuple(sorted(i for i, s in self.entries.items() if s.stored == self._status))

    @cached_property
    def added(self) -> tuple[int, ...]:
        if not self._status:
            return ()
        return tuple(sorted(i for i, s in self.entries.items() if s.status == self._status))

    @property
    def corrects_filter(self) -> bool:
        return bool(self.excluded or self.added)


_NO_STALE = _Stale({}, known={})


#: The columns of the FTS5 table that hold words (``tags`` holds the filter values).
_WORD_COLUMNS = "{number holder places scope}"


def _terms(words: _Words | None, filters: Mapping[str, str]) -> list[Term]:
    """The terms of the word index that every match holds: each word of the search (with
    its corrections) and each filter value's token (the country and status as one)."""
    from apcert.register.index import filter_tag, pair_tag

    rest = dict(filters)
    tags = []
    if "country" in rest and "status" in rest:
        tags.append(pair_tag(rest.pop("country"), rest.pop("status")))
    tags.extend(filter_tag(facet, value) for facet, value in rest.items())
    return [*(words.groups if words is not None else ()), *(((t,), False) for t in tags)]


def _word_index_query(words: _Words | None, filters: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The condition on a word index row (``document`` on PostgreSQL, the FTS5 table
    ``register_search_fts`` on SQLite) that it matches the words and every filter value.
    The filter values are tokens of the index (:func:`apcert.register.index.filter_tag`),
    so FTS5 and GIN intersect them with the words, skipping through each list, however
    common one of them is."""
    connection = reading_connection()

    from apcert.register.index import filter_tag, pair_tag

    rest = dict(filters)
    tags = []
    if "country" in rest and "status" in rest:
        tags.append(pair_tag(rest.pop("country"), rest.pop("status")))
    tags.extend(sorted(filter_tag(facet, value) for facet, value in rest.items()))
    if connection.vendor == "postgresql":
        parts, params = [], []
        if words is not None:
            parts.append("to_tsquery('simple', %s)")
            params.append(words.tsquery())
        if tags:
            parts.append("%s::tsquery")
            params.append(" & ".join(tags))
        return f"document @@ ({' && '.join(parts)})", params
    expression = [f"{_WORD_COLUMNS} : ({words.fts5()})"] if words is not None else []
    expression.extend(f'tags : "{tag}"' for tag in tags)
    return "register_search_fts MATCH %s", [" AND ".join(expression)]


def _match_ids_sql(
    words: _Words | None,
    filters: Mapping[str, str],
    *,
    newest_first: bool = False,
    stale: _Stale = _NO_STALE,
    reach: int | None = None,
) -> tuple[str, list[Any]]:
    """SQL giving the id of every entry matching the words and filters, unranked, or the
    newest certificates first (the word index's own order, read backwards). With a status
    filter that stale entries change, the index's matches lose the entries that have left
    that status and gain those that have entered it (matching the words and the other
    filters): a second branch probing only those few ids. ``reach`` is how far the caller
    reads (its limit, and offset): the index's branch stops there (on PostgreSQL, each band
    of it), and newest first stays a walk of the word index backwards, instead of every
    match being sorted."""
    connection = reading_connection()

    condition, params = _word_index_query(words, filters)
    if stale.excluded:
        column = "entry_id" if connection.vendor == "postgresql" else "rowid"
        condition += f" AND {column} NOT IN ({_placeholders(list(stale.excluded))})"
        params = [*params, *stale.excluded]
    if connection.vendor == "postgresql":
        # Band by band (apcert.register.word_bands), each branch stopping at the reach,
        # unless the statistics say the matches are few: then the whole index at once.
        few = few_matches(connection, _terms(words, filters))
        sql, params = banded_ids_sql(
            condition,
            params,
            () if few else word_bands(connection),
            newest_first=newest_first,
            limit=reach,
        )
        column = "entry_id"
    else:
        column = "rowid"
        order = " ORDER BY rowid DESC" if newest_first else ""
        sql = f"SELECT rowid FROM register_search_fts WHERE {condition}{order}"
    if not stale.added:
        return sql, params
    if newest_first and reach is not None:
        sql = f"SELECT m.{column} FROM ({sql} LIMIT %s) m"
        params = [*params, reach]
    # Each entry that has entered the status is checked by its id: the other filters
    # on its row, the words by a probe of the word index (matching the other filters
    # in the word index would list every entry of a common value).
    rest = {facet: value for facet, value in filters.items() if facet != "status"}
    where, more = _filters_sql(rest)
    if words is not None:
        match_clause, match_params = _matches_sql(words, "e.certificate_id")
        where, more = f"{where} AND {match_clause}", [*more, *match_params]
    sql += (
        " UNION ALL SELECT e.certificate_id FROM register_searchentry e WHERE"
        f" e.certificate_id IN ({_placeholders(list(stale.added))}) AND {where}"
    )
    params = [*params, *stale.added, *more]
    return sql + (" ORDER BY 1 DESC" if newest_first else ""), params


def _matches_sql(words: _Words, id_column: str) -> tuple[str, list[Any]]:
    """A condition: the entry ``id_column`` matches the words. A probe of the word index by
    id, so that walking another index stops as soon as a page is full (a subquery listing
    every match of a common word would be built whole first)."""
    connection = reading_connection()

    condition, params = _word_index_query(words, {})
    if connection.vendor == "postgresql":
        return (
            "EXISTS (SELECT 1 FROM register_search_doc WHERE entry_id = "
            f"{id_column} AND {condition})",
            params,
        )
    return (
        f"EXISTS (SELECT 1 FROM register_search_fts WHERE {condition} AND rowid = {id_column})",
        params,
    )


def _totals(filters: Mapping[str, str], stale: _Stale = _NO_STALE) -> dict[str, int]:
    """How many entries have each filter value (0 for a value none has), the status asked
    for counted as it is today."""
    connection = reading_connection()

    if not filters:
        return {}
    pairs = list(filters.items())
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT facet, "count" FROM register_searchfacettotal WHERE '
            + " OR ".join(["(facet = %s AND value = %s)"] * len(pairs)),
            [x for pair in pairs for x in pair],
        )
        found = {str(facet): int(count) for facet, count in cursor.fetchall()}
    out = {facet: found.get(facet, 0) for facet in filters}
    if "status" in out:
        out["status"] += len(stale.added) - len(stale.excluded)
    return out


#: The filters an entry has one value of, kept as columns of ``register_searchentry``.
_SINGLE_VALUED = {
    "status": "status",
    "country": "country",
    "scheme": "scheme_code",
    "cb": "cb_code",
}


def _filters_sql(
    filters: Mapping[str, str],
    totals: Mapping[str, int] | None = None,
    stale: _Stale = _NO_STALE,
) -> tuple[str, list[Any]]:
    """The filters as a condition on the entry ``e``, for checking entries one at a time
    while walking an index (by number, by holder name, in a sort order): the single-valued
    filters compare columns of the entry row, the others are lookups in the unique (entry,
    facet, value) index, the rarest value first when the totals are known. Sets of matches
    come from the word index instead (:func:`_word_index_query`)."""
    clauses: list[str] = []
    params: list[Any] = []
    for facet, column in _SINGLE_VALUED.items():
        if facet == "status" and facet in filters and stale.corrects_filter:
            # The stored status, less the entries that have left it, plus those that have
            # entered it since the sweep last ran: the stored status is the truth except for
            # those, whose answer flips. One condition, not an OR, so that a walk of a sort
            # order's index stays a walk.
            flipped = sorted({*stale.excluded, *stale.added})
            clauses.append(f"((e.status = %s) <> (e.certificate_id IN ({_placeholders(flipped)})))")
            params.extend([filters[facet], *flipped])
        elif facet in filters:
            clauses.append(f"e.{column} = %s")
            params.append(filters[facet])
    rest = {f: v for f, v in filters.items() if f not in _SINGLE_VALUED}
    for facet, value in sorted(rest.items(), key=lambda i: ((totals or {}).get(i[0], 0), i)):
        clauses.append(
            "EXISTS (SELECT 1 FROM register_searchfacet g WHERE g.entry_id = "
            "e.certificate_id AND g.facet = %s AND g.value = %s)"
        )
        params.extend([facet, value])
    return (" AND ".join(clauses) or "1 = 1"), params


def _column(sql: str, params: list[Any]) -> list[int]:
    connection = reading_connection()

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(row[0]) for row in cursor.fetchall()]


def _column_text(sql: str, params: list[Any]) -> list[str]:
    connection = reading_connection()

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [str(row[0]) for row in cursor.fetchall()]


def _placeholders(values: list[int]) -> str:
    return ", ".join(["%s"] * len(values)) or "NULL"


def _candidates(
    words: _Words | None,
    filters: Mapping[str, str],
    totals: Mapping[str, int],
    limit: int,
    *,
    newest_first: bool,
    stale: _Stale,
) -> list[int]:
    """Up to ``limit`` ids of entries matching the words and filters, found once, in one
    query of the word index: their count, the page and the counts per filter value are all
    taken from this list."""
    if filters and min(totals.values()) == 0:
        return []  # a value no public certificate has
    match, params = _match_ids_sql(
        words, filters, newest_first=newest_first, stale=stale, reach=limit
    )
    return _column(f"{match} LIMIT %s", [*params, limit])


#: What relevance ranks on, read from the narrow rank index rather than the entry rows
#: (which carry the whole document).
RankRow = tuple[int, str, str, str]


def _rank_rows_sql(ids_sql: str) -> str:
    """SQL reading the rank columns of the entries whose ids ``ids_sql`` selects."""
    connection = reading_connection()

    # SQLite would look each id up in the primary key index and then read the entry row;
    # the rank index holds all four columns.
    hint = " INDEXED BY register_entry_rank" if connection.vendor == "sqlite" else ""
    return (
        "SELECT e.certificate_id, e.number_key, e.holder_key, e.number FROM"
        f" register_searchentry e{hint} WHERE e.certificate_id IN ({ids_sql})"
    )


def _candidate_rows(
    words: _Words,
    filters: Mapping[str, str],
    totals: Mapping[str, int],
    limit: int,
    stale: _Stale,
) -> list[RankRow]:
    """:func:`_candidates` for a relevance search: the same matches, by id, each with what
    it is ranked on, in one statement (the ids are not sent back to the database)."""
    if filters and min(totals.values()) == 0:
        return []
    match, params = _match_ids_sql(words, filters, stale=stale, reach=limit)
    return _rows(
        _rank_rows_sql(f"{match} LIMIT %s") + " ORDER BY e.certificate_id", [*params, limit]
    )


def _rows(sql: str, params: list[Any]) -> list[RankRow]:
    connection = reading_connection()

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(i), str(n), str(h), str(x)) for i, n, h, x in cursor.fetchall()]


def _ranked(words: _Words, rows: list[RankRow], text: str) -> list[int]:
    """The entries of ``rows`` by relevance: the exact number, then the holder name as
    typed, then names that begin with it, then names holding every word, then the rest; by
    holder name within each."""
    from apcert.register.index import number_key

    key = number_key(text)
    typed = words.corrected or words.folded
    starts = typed + " "

    def rank(row: RankRow) -> tuple[int, str, str]:
        _, number, holder, shown = row
        if number == key:
            tier = 0
        elif holder == typed:
            tier = 1
        elif holder.startswith(starts):
            tier = 2
        elif words.in_holder(holder):
            tier = 3
        else:
            tier = 4
        return (tier, holder, shown)

    return [row[0] for row in sorted(rows, key=rank)]


def _page_in(ids: list[int], order: str, per_page: int, offset: int) -> list[int]:
    return _column(
        f"SELECT e.certificate_id FROM register_searchentry e WHERE e.certificate_id IN"
        f" ({_placeholders(ids)}) ORDER BY {order} LIMIT %s OFFSET %s",
        [*ids, per_page, offset],
    )


def search(query: SearchQuery) -> SearchResult:
    """Search the public register: words (holder name, certificate number, city, scope
    words; case, accents and small typos do not matter), filters, counts per filter value,
    a page of results in the order asked. Exact number first, then holder name, when
    ordered by relevance.

    The matches are found once, up to COUNT_LIMIT of them; their count, the page and the
    counts per filter value come from that list. Beyond it, the total reads "more than",
    a relevance page is ranked over the first matches (holder-name matches included), and
    any other order walks its index.

    The index holds each certificate's recorded status; the few whose status the calendar
    has changed since the sweep last ran are read apart (:class:`_Stale`, one query) and
    shown, filtered, counted and sorted by their status today."""
    from apcert.register.index import number_key

    words = _words(query.text)
    filters = query.filters
    stale = _Stale(filters)
    offset = (query.page - 1) * query.per_page
    sort = "newest" if words is None and query.sort == "relevance" else query.sort
    relevance = sort == "relevance"
    order = _ORDER.get(sort, "")
    corrected = words.corrected if words else None

    if words is not None and _looks_like_number(number_key(query.text)):
        # A certificate number, however typed: its key finds it at once.
        where, params = _filters_sql(filters, stale=stale)
        found = _column(
            "SELECT e.certificate_id FROM register_searchentry e WHERE e.number_key = %s"
            f" AND {where}",
            [number_key(query.text), *params],
        )
        if found:
            return SearchResult(
                query=query,
                hits=_hits(found[offset : offset + query.per_page], stale),
                total=len(found),
                total_exact=True,
                facets=_facet_counts(found, stale),
                last_page=1,
            )

    if words is None and not filters:
        # The whole register: the kept totals give every count.
        counts = _facet_totals(stale)
        total = sum(c.count for c in counts.get("status", []))
        if sort == "changed" and stale.entries:
            ids = _page_by_change(stale, None, {}, {}, query.per_page, offset)
        else:
            ids = _column(
                f"SELECT e.certificate_id FROM register_searchentry e ORDER BY {order}"
                " LIMIT %s OFFSET %s",
                [query.per_page, offset],
            )
        return SearchResult(query=query, hits=_hits(ids, stale), total=total, total_exact=True,
                            facets=counts)  # fmt: skip

    newest = sort == "newest"
    # Read once: which filter value is rarest, and any held by none.
    totals = _totals(filters, stale)
    last_page = MAX_PAGE
    if not relevance:
        matches = _candidates(
            words, filters, totals, COUNT_LIMIT + 1, newest_first=newest, stale=stale
        )
        exact = len(matches) <= COUNT_LIMIT
    if relevance:
        assert words is not None
        rows = _candidate_rows(words, filters, totals, COUNT_LIMIT + 1, stale)
        matches = [row[0] for row in rows]
        exact = len(matches) <= COUNT_LIMIT
        pool = rows
        if not exact:
            # Holder names that begin with the words come first: a range of the holder-name
            # index, not a scan of every match.
            typed = words.corrected or words.folded
            where, more = _filters_sql(filters, totals, stale)
            holders = _rows(
                "SELECT e.certificate_id, e.number_key, e.holder_key, e.number"
                " FROM register_searchentry e WHERE e.holder_key >= %s"
                f" AND e.holder_key < %s AND {where} ORDER BY e.holder_key, e.number LIMIT %s",
                [typed, typed + "\uffff", *more, RANK_LIMIT],
            )
            pool = list({row[0]: row for row in [*holders, *rows[:RANK_LIMIT]]}.values())
            last_page = max(1, math.ceil(len(pool) / query.per_page))
        ids = _ranked(words, pool, query.text)[offset : offset + query.per_page]
    elif newest and (exact or offset + query.per_page <= len(matches)):
        # The matches were read newest first: the first COUNT_LIMIT + 1 of them hold every
        # page up to there. (Read again with the page's own small limit, PostgreSQL walked
        # the primary key backwards, testing each entry, and matches of old certificates
        # took it through half the register: 280 ms at 1M.)
        ids = matches[offset : offset + query.per_page]
    elif newest:
        # The word index lists its matches by id: read backwards, past the earlier pages.
        match, params = _match_ids_sql(
            words, filters, newest_first=True, stale=stale, reach=offset + query.per_page
        )
        ids = _column(f"{match} LIMIT %s OFFSET %s", [*params, query.per_page, offset])
    elif exact and sort == "changed" and stale.among(matches):
        ids = _page_by_change(
            stale, words, filters, totals, query.per_page, offset, matches=matches
        )
    elif exact:
        ids = _page_in(matches, order, query.per_page, offset)
    else:
        # Many matches in another order: walk that order's index, keeping the matches: the
        # filters checked on each entry first, the words (a probe of the word index) last.
        where, params = _filters_sql(filters, totals, stale)
        if words is not None:
            match_clause, match_params = _matches_sql(words, "e.certificate_id")
            where, params = f"{where} AND {match_clause}", [*params, *match_params]
        if sort == "changed" and stale.entries:
            ids = _page_by_change(stale, words, filters, totals, query.per_page, offset)
        else:
            ids = _column(
                f"SELECT e.certificate_id FROM register_searchentry e WHERE {where}"
                f" ORDER BY {order} LIMIT %s OFFSET %s",
                [*params, query.per_page, offset],
            )
    # The counts first: over more than a few matches they read the whole stale set, which
    # then serves the page of hits too.
    facets = _facet_counts(matches, stale) if exact and len(matches) <= FACET_LIMIT else {}
    return SearchResult(
        query=query,
        hits=_hits(ids, stale),
        total=len(matches) if exact else COUNT_LIMIT,
        total_exact=exact,
        facets=facets,
        corrected=corrected,
        last_page=last_page,
    )


def _page_by_change(
    stale: _Stale,
    words: _Words | None,
    filters: Mapping[str, str],
    totals: Mapping[str, int],
    per_page: int,
    offset: int,
    *,
    matches: list[int] | None = None,
) -> list[int]:
    """A page in the order of the latest status change, each stale entry placed by the
    change the calendar made rather than the one the index holds. With the matches known
    (at most COUNT_LIMIT), their dates are read and sorted here. Otherwise the index's order
    is walked without the stale entries (as far as the page reaches), and the stale entries
    that match (their status today, the other filters and the words) are read apart: they
    are few. The two are merged. One or two queries."""
    if matches is not None:
        rows = _dated_rows(
            "SELECT e.certificate_id, e.status_since, e.number FROM register_searchentry e"
            f" WHERE e.certificate_id IN ({_placeholders(matches)})",
            list(matches),
        )
    else:
        ids = list(stale.entries)
        # The walk reads the stored status: the stale entries, whose status is not the
        # stored one, are left out of it.
        where, params = _filters_sql(filters, totals)
        rest, more = _filters_sql({f: v for f, v in filters.items() if f != "status"}, totals)
        if words is not None:
            match_clause, match_params = _matches_sql(words, "e.certificate_id")
            where, params = f"{where} AND {match_clause}", [*params, *match_params]
            rest, more = f"{rest} AND {match_clause}", [*more, *match_params]
        rows = _dated_rows(
            "SELECT e.certificate_id, e.status_since, e.number FROM register_searchentry e"
            f" WHERE {where} AND e.certificate_id NOT IN ({_placeholders(ids)})"
            f" ORDER BY {_ORDER['changed']} LIMIT %s",
            [*params, *ids, offset + per_page],
        )
        status = filters.get("status")
        moved = [i for i, entry in stale.entries.items() if not status or entry.status == status]
        if moved:
            rows += _dated_rows(
                "SELECT e.certificate_id, e.status_since, e.number FROM register_searchentry e"
                f" WHERE {rest} AND e.certificate_id IN ({_placeholders(moved)})",
                [*more, *moved],
            )
    dated = [
        (i, stale.entries[i].today.since if i in stale.entries else since, number)
        for i, since, number in rows
    ]
    dated.sort(key=lambda row: (-row[1].toordinal(), row[2]))
    return [row[0] for row in dated[offset : offset + per_page]]


def _dated_rows(sql: str, params: list[Any]) -> list[tuple[int, dt.date, str]]:
    connection = reading_connection()

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(i), _as_date(d), str(n)) for i, d, n in cursor.fetchall()]


def _looks_like_number(key: str) -> bool:
    return len(key) >= 8 and key.startswith("IECQ") and any(c.isdigit() for c in key)


def _as_date(value: Any) -> dt.date:
    # SQLite gives the stored text, PostgreSQL a date.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _hits(ids: list[int], stale: _Stale = _NO_STALE) -> list[SearchHit]:
    """The page's entries, in the order of ``ids``: one plain statement over the entry
    columns a result line shows (the ORM's model building took longer than the read), and
    one for their transfer links. A stale entry shows its status today, marked as not yet
    recorded."""
    connection = reading_connection()

    from apcert.register.selectors import NO_TRANSFER, transfer_links

    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT certificate_id, number, holder_name, country, organization_id, cb_code,"
            " cb_name, scheme_code, programmes, status, status_since, expires_on, cities,"
            f" categories FROM register_searchentry WHERE certificate_id IN ({_placeholders(ids)})",
            ids,
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    transfers = transfer_links(list(rows))
    moved = stale.among(ids)
    hits = []
    for i in ids:
        if i not in rows:
            continue
        row = rows[i]
        transfer = transfers.get(i, NO_TRANSFER)
        today = moved.get(i)
        hits.append(
            SearchHit(
                number=row[1],
                holder_name=row[2],
                country=row[3],
                organization_id=int(row[4]),
                cb_code=row[5],
                cb_name=row[6],
                scheme_code=row[7],
                programmes=tuple(row[8].split()),
                status=row[9] if today is None else today.status,
                status_since=_as_date(row[10]) if today is None else today.today.since,
                expires_on=_as_date(row[11]),
                cities=tuple(c for c in row[12].split("\n") if c),
                categories=tuple(row[13].split()),
                transferred_from=transfer.transferred_from,
                transferred_to=transfer.transferred_to,
                status_recorded=today is None,
            )
        )
    return hits


def _facet_totals(stale: _Stale = _NO_STALE) -> dict[str, list[FacetCount]]:
    from apcert.register.models import SearchFacetTotal

    rows = SearchFacetTotal.objects.filter(count__gt=0).values_list("facet", "value", "count")
    return _labelled(_status_today(list(rows), stale.entries.values()))


def _facet_counts(ids: list[int], stale: _Stale = _NO_STALE) -> dict[str, list[FacetCount]]:
    connection = reading_connection()

    if not ids:
        return _labelled([])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT facet, value, count(*) FROM register_searchfacet"
            f" WHERE entry_id IN ({_placeholders(ids)}) GROUP BY facet, value",
            ids,
        )
        rows = [(str(f), str(v), int(n)) for f, v, n in cursor.fetchall()]
    return _labelled(_status_today(rows, stale.among(ids).values()))


def _status_today(rows: list[tuple[str, str, int]], moved: Any) -> list[tuple[str, str, int]]:
    """Counts per filter value with each stale entry counted under its status today rather
    than the one the index holds (no other value of an entry changes with the calendar)."""
    delta: dict[str, int] = {}
    for entry in moved:
        delta[entry.stored] = delta.get(entry.stored, 0) - 1
        delta[entry.status] = delta.get(entry.status, 0) + 1
    if not delta:
        return rows
    counts = {(f, v): n for f, v, n in rows}
    for status, n in delta.items():
        counts[("status", status)] = counts.get(("status", status), 0) + n
    return [(f, v, n) for (f, v), n in counts.items() if n > 0]


def _labels(wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """Names of filter values (scheme, programme, category and CB names), kept for a few
    minutes: they are reference data, read on every search otherwise."""
    from apcert.bodies.models import CertificationBody
    from apcert.certificates.choices import CertificateStatus
    from apcert.schemes.models import ProcessCategory, Programme, Scheme

    now = time.monotonic()
    out = {("status", s.value): str(s.label) for s in CertificateStatus}
    missing: dict[str, set[str]] = {}
    for facet, values in wanted.items():
        for value in values:
            cached = _labels_cache.get((facet, value))
            if cached and cached[1] > now:
                out[(facet, value)] = cached[0]
            elif facet in ("scheme", "programme", "category", "cb"):
                missing.setdefault(facet, set()).add(value)
    models: dict[str, Any] = {
        "scheme": Scheme,
        "programme": Programme,
        "category": ProcessCategory,
        "cb": CertificationBody,
    }
    for facet, values in missing.items():
        names = models[facet].objects.filter(code__in=values).values_list("code", "name")
        for code, name in names:
            _labels_cache[(facet, code)] = (name, now + _LABELS_TTL)
            out[(facet, code)] = name
    return out


def _labelled(rows: list[tuple[str, str, int]]) -> dict[str, list[FacetCount]]:
    wanted: dict[str, set[str]] = {}
    for facet, value, _ in rows:
        wanted.setdefault(facet, set()).add(value)
    labels = _labels(wanted)
    out: dict[str, list[FacetCount]] = {name: [] for name in FACETS}
    for facet, value, count in rows:
        label = labels.get((facet, value), value)
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
