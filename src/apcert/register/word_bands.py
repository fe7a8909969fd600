"""PostgreSQL: the word index in bands of entry ids, so that a search reads what it shows.

A GIN index answers ``document @@ query`` with a bitmap of every match, built and sorted
whole before the first row is returned, whatever the ``LIMIT``: a word held by 41,000 of a
million certificates cost about 8 ms before the 501 rows a search reads came back. Beside
the whole index (``register_search_doc_gin``), each band of ``WORD_BAND`` consecutive entry
ids has a partial GIN index of its own, named ``register_search_doc_band_<from>_<to>``. A
search asks the bands one after the other (:func:`banded_ids_sql`: a ``UNION ALL`` of one
branch per band, in id order or newest first, under the search's own limit), so a common
word stops in the first band that gives enough matches, and the cost follows the rows read,
not the size of the register. A band's bitmap holds a sixteenth of a million entries at most.

The bands are an optimisation only. Every band branch is a correct query with or without its
index, and the ids past the last indexed band are read by an open-ended branch that the whole
index answers, so a band index that is missing, being made or not yet made for new
certificates changes the speed of a search, never its answer.

Band indexes are made one band ahead of the highest entry id: by migration, after every
rebuild of the index (a bulk load), and by the worker's upkeep, which makes the next one
without blocking writes (``CREATE INDEX CONCURRENTLY``) as the register grows. SQLite needs
none of this: FTS5 reads its lists in id order and stops at the limit.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

#: The narrowest band, in entry ids.
WORD_BAND = 65_536
#: A band made when the register holds N ids is about N / this wide (a power of two): at a
#: million certificates, 8 bands of 131,072 ids.
BANDS_PER_REGISTER = 8
#: How long a process keeps the list of bands it read from the catalogue.
BANDS_TTL = 60.0
_PREFIX = "register_search_doc_band_"
_NAME = re.compile(rf"^{_PREFIX}(\d+)_(\d+)$")
_cache: dict[str, tuple[float, tuple[tuple[int, int], ...]]] = {}
_lock = threading.Lock()


def band_name(low: int, high: int) -> str:
    return f"{_PREFIX}{low}_{high}"


def _indexed_bands(connection: BaseDatabaseWrapper) -> list[tuple[int, int]]:
    """The (from, to) of every valid band index, from the catalogue."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'register_search_doc'::regclass AND i.indisvalid"
            " AND c.relname LIKE %s",
            [_PREFIX + "%"],
        )
        names = [str(row[0]) for row in cursor.fetchall()]
    bands = []
    for name in names:
        found = _NAME.match(name)
        if found:
            bands.append((int(found.group(1)), int(found.group(2))))
    return sorted(bands)


def chain(bands: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The bands that tile the ids from 0 without a gap or an overlap: from each end, the
    narrowest band that starts there. What they leave is read by the open-ended branch."""
    starting: dict[int, int] = {}
    for low, high in bands:
        if high > low and (low not in starting or high < starting[low]):
            starting[low] = high
    out = []
    at = 0
    while at in starting:
        out.append((at, starting[at]))
        at = starting[at]
    return tuple(out)


def word_bands(connection: BaseDatabaseWrapper) -> tuple[tuple[int, int], ...]:
    """The bands a search on ``connection`` asks one by one (read from the catalogue at most
    every ``BANDS_TTL`` seconds per process and database); empty on SQLite."""
    if connection.vendor != "postgresql":
        return ()
    now = time.monotonic()
    kept = _cache.get(connection.alias)
    if kept is not None and kept[0] > now:
        return kept[1]
    bands = chain(_indexed_bands(connection))
    with _lock:
        _cache[connection.alias] = (now + BANDS_TTL, bands)
    return bands


def forget_word_bands() -> None:
    """Read the bands and the word statistics from the catalogue again at the next search
    (after bands are made or dropped, or statistics gathered, in this process)."""
    with _lock:
        _cache.clear()
        _stats.clear()


#: A search whose matches cannot be more than this many reads the whole index in one plain
#: statement: its bitmap is small, and planning one branch per band would cost more (about
#: 0.07 ms a branch at 16 bands, most of a rare word's search).
PLAIN_UP_TO = 5_000
#: How long a process keeps the word statistics it read (they change with ANALYZE only).
STATS_TTL = 600.0
_stats: dict[str, tuple[float, tuple[dict[str, float], float, float] | None]] = {}

#: One term of a search as the word index matches it: the words any of which will do, and
#: whether they are matched as prefixes.
Term = tuple[tuple[str, ...], bool]


def _lexeme_stats(
    connection: BaseDatabaseWrapper,
) -> tuple[dict[str, float], float, float] | None:
    """PostgreSQL's own statistics of the word index (gathered by ANALYZE): the share of
    rows holding each of the most common words, the share below which a word is not
    listed, and the number of rows. None when none were gathered."""
    now = time.monotonic()
    kept = _stats.get(connection.alias)
    if kept is not None and kept[0] > now:
        return kept[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples"
            " FROM pg_stats s JOIN pg_class c ON c.oid = 'register_search_doc'::regclass"
            " WHERE s.schemaname = current_schema() AND s.tablename = 'register_search_doc'"
            " AND s.attname = 'document'"
        )
        row = cursor.fetchone()
    found = None
    if row is not None and row[0] is not None and row[1] is not None:
        words, shares = list(row[0]), list(row[1])
        # After the per-word shares come the lowest and the highest of them.
        if len(shares) >= len(words) + 1:
            listed = dict(zip(words, shares[: len(words)], strict=True))
            found = (listed, float(shares[len(words)]), float(row[2]))
    with _lock:
        _stats[connection.alias] = (now + STATS_TTL, found)
    return found


def few_matches(connection: BaseDatabaseWrapper, terms: Sequence[Term]) -> bool:
    """Whether a search of these terms (all of which must match) surely has at most
    ``PLAIN_UP_TO`` matches: its rarest term is held by no more rows than that, by the
    statistics. False when unsure (no statistics, a prefix, no terms)."""
    stats = _lexeme_stats(connection)
    if stats is None or not terms:
        return False
    shares, unlisted, rows = stats
    bound = 1.0
    for words, prefix in terms:
        if prefix:
            continue  # how many words it begins is not known here
        bound = min(bound, sum(shares.get(word, unlisted) for word in words))
    return bound * max(rows, 0.0) <= PLAIN_UP_TO


def banded_ids_sql(
    condition: str,
    params: list[Any],
    bands: Sequence[tuple[int, int]],
    *,
    newest_first: bool,
    limit: int | None,
) -> tuple[str, list[Any]]:
    """SQL giving the ``entry_id`` of the word index rows that meet ``condition`` (on the
    columns of ``register_search_doc``), one branch per band and an open-ended branch for
    the ids past the last band, in id order or newest first. With ``limit``, each branch
    stops there; the caller puts the same limit (or its page's) on the whole, so that
    PostgreSQL reads the branches in turn and stops at the first that completes it. Without
    bands: one plain statement."""
    order = " ORDER BY entry_id DESC" if newest_first else ""
    cut = "" if limit is None else f" LIMIT {int(limit)}"
    if not bands:
        return f"SELECT entry_id FROM register_search_doc WHERE {condition}{order}", params
    branches: list[tuple[str, list[Any]]] = []
    # The bounds are written into the statement, not sent as parameters: the planner
    # picks a partial index only for a condition it can see implies the index's own.
    for low, high in bands:
        branches.append(
            (
                "(SELECT entry_id FROM register_search_doc WHERE entry_id >= "
                f"{int(low)} AND entry_id < {int(high)} AND {condition}{order}{cut})",
                params,
            )
        )
    branches.append(
        (
            "(SELECT entry_id FROM register_search_doc WHERE entry_id >= "
            f"{int(bands[-1][1])} AND {condition}{order}{cut})",
            params,
        )
    )
    if newest_first:
        branches.reverse()
    sql = " UNION ALL ".join(branch for branch, _ in branches)
    out_params = [p for _, more in branches for p in more]
    # The branches are already in the order asked, and the caller's own LIMIT on the
    # outer query keeps it: an Append returns its branches in turn, and stops once the
    # limit is met. (An ORDER BY here would make it a Merge Append, which starts every
    # branch to compare their first rows.)
    return f"SELECT b.entry_id FROM ({sql}) b", out_params


def band_width(highest: int, *, least: int = WORD_BAND, parts: int = BANDS_PER_REGISTER) -> int:
    """The width of a band made when the highest entry id is ``highest``: the smallest power
    of two that is at least ``least`` and a ``parts``-th of the ids. Bands made later are
    wider, so their number grows with the logarithm of the register, not with its size (a
    search that reads every band plans one branch for each)."""
    width = 1
    while width < max(least, -(-highest // parts)):
        width *= 2
    return width


def ensure_word_bands(
    *, least: int = WORD_BAND, concurrently: bool | None = None, ahead: int = 1
) -> list[str]:
    """Make the band indexes missing from 0 to ``ahead`` bands past the highest entry id,
    continuing the chain of bands that exists (:func:`chain`) with bands of
    :func:`band_width`, and return their names. ``concurrently``: without blocking writes,
    which needs to run outside a transaction (by default: when not in one). An index left
    invalid by a concurrent build that failed is dropped and made again. PostgreSQL only."""
    connection = default_connection
    if connection.vendor != "postgresql":
        return []
    if concurrently is None:
        concurrently = not connection.in_atomic_block
    how = " CONCURRENTLY" if concurrently else ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(entry_id), 0) FROM register_search_doc")
        highest = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'register_search_doc'::regclass AND NOT i.indisvalid"
            " AND c.relname LIKE %s",
            [_PREFIX + "%"],
        )
        for (name,) in cursor.fetchall():  # left invalid by a build that failed
            cursor.execute(f"DROP INDEX{how} IF EXISTS {name}")
    bands = chain(_indexed_bands(connection))
    end = bands[-1][1] if bands else 0
    width = band_width(highest, least=least)
    wanted = []
    # The band that holds the highest id, and ``ahead`` whole bands past it.
    while end < highest + 1 + ahead * width:
        wanted.append((end, end + width))
        end += width
    made = [make_word_band(low, high, concurrently=concurrently) for low, high in wanted]
    if made:
        forget_word_bands()
    return made


def make_word_band(low: int, high: int, *, concurrently: bool) -> str:
    """Make the index of the band of entry ids from ``low`` to ``high`` (if missing) and
    return its name."""
    name = band_name(low, high)
    how = " CONCURRENTLY" if concurrently else ""
    with default_connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX{how} IF NOT EXISTS {name} ON register_search_doc"
            " USING gin (document) WITH (fastupdate = off)"
            f" WHERE entry_id >= {int(low)} AND entry_id < {int(high)}"
        )
    return name


def word_bands_upkeep() -> None:
    """The worker's upkeep: the next band made before the register's ids reach it."""
    made = ensure_word_bands()
    if made:
        logger.info("word index: made %s", ", ".join(made))


__all__ = [
    "BANDS_PER_REGISTER",
    "BANDS_TTL",
    "WORD_BAND",
    "band_name",
    "band_width",
    "banded_ids_sql",
    "chain",
    "ensure_word_bands",
    "few_matches",
    "forget_word_bands",
    "make_word_band",
    "word_bands",
    "word_bands_upkeep",
]
