"""The word index in bands of entry ids (PostgreSQL): a search reads the bands in turn and
stops when it has what it shows; the answers are those of the whole index, with a band
index or without it; the bands are made by migration, by a rebuild and by the worker's
upkeep, one band ahead of the register's ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.core.upkeep import register_upkeep, run_upkeep
from apcert.register import search as search_module
from apcert.register import word_bands
from apcert.register.index import index_rebuild
from apcert.register.search import SearchQuery, search
from apcert.register.word_bands import (
    band_width,
    banded_ids_sql,
    chain,
    ensure_word_bands,
    few_matches,
    forget_word_bands,
    make_word_band,
)
from tests.factories import World
from tests.test_register_search import certify

postgres = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the bands are PostgreSQL's"
)


# --- the parts, without a database ---------------------------------------------------------


def test_the_chain_tiles_the_ids_from_zero_without_gap_or_overlap():
    assert chain([]) == ()
    assert chain([(0, 4), (4, 8), (8, 16)]) == ((0, 4), (4, 8), (8, 16))
    # The narrowest band that starts where the last ended; an overlapping one is left out
    assert chain([(0, 8), (0, 4), (4, 8), (6, 10)]) == ((0, 4), (4, 8))
    # A gap ends the chain: the open-ended branch reads the rest
    assert chain([(0, 4), (8, 12)]) == ((0, 4),)
    # Nothing from 0: no band at all
    assert chain([(4, 8)]) == ()


def test_bands_widen_as_the_register_grows_so_their_number_grows_slowly():
    assert band_width(0) == word_bands.WORD_BAND
    assert band_width(10_000) == word_bands.WORD_BAND
    assert band_width(1_000_000) == 131_072  # 8 bands at a million
    assert band_width(10_000_000) == 2_097_152
    # A power of two, never narrower than asked
    assert band_width(100, least=2) == 16
    assert band_width(5, least=2) == 2


def test_banded_sql_reads_the_bands_in_order_and_the_ids_past_them_last():
    sql, params = banded_ids_sql("document @@ %s", ["q"], ((0, 4), (4, 8)), newest_first=False,
                                 limit=3)  # fmt: skip
    assert params == ["q", "q", "q"]
    branches = sql.split(" UNION ALL ")
    assert len(branches) == 3
    assert "entry_id >= 0 AND entry_id < 4" in branches[0]
    assert "entry_id >= 4 AND entry_id < 8" in branches[1]
    assert "entry_id >= 8 AND document" in branches[2]
    assert all(b.rstrip(") b").endswith("LIMIT 3") for b in branches)
    newest, _ = banded_ids_sql("document @@ %s", ["q"], ((0, 4), (4, 8)), newest_first=True,
                               limit=3)  # fmt: skip
    first, *_, last = newest.split(" UNION ALL ")
    assert "entry_id >= 8 AND document" in first and "ORDER BY entry_id DESC" in first
    assert "entry_id >= 0 AND entry_id < 4" in last
    # Without bands: the one plain statement
    plain, params = banded_ids_sql("document @@ %s", ["q"], (), newest_first=False, limit=3)
    assert "UNION" not in plain and params == ["q"]


def test_few_matches_follows_the_rarest_term_and_is_unsure_without_statistics(monkeypatch):
    stats = ({"common": 0.5, "often": 0.2}, 0.001, 1_000_000.0)
    monkeypatch.setattr(word_bands, "_lexeme_stats", lambda connection: stats)
    # "rare" is not listed: held by at most 0.1 % of the rows, 1,000
    assert few_matches(connection, [(("common",), False), (("rare",), False)])
    assert not few_matches(connection, [(("common",), False), (("often",), False)])
    # A word and its corrections: any of them will do, so their shares add up
    assert not few_matches(connection, [(("rare", "often"), False)])
    # A prefix tells nothing; with another term it is that term that bounds
    assert not few_matches(connection, [(("com",), True)])
    assert few_matches(connection, [(("com",), True), (("rare",), False)])
    assert not few_matches(connection, [])
    monkeypatch.setattr(word_bands, "_lexeme_stats", lambda connection: None)
    assert not few_matches(connection, [(("rare",), False)])


def test_upkeep_runs_each_registered_job_and_reports_a_failure_without_stopping(monkeypatch):
    from apcert.core import upkeep

    monkeypatch.setattr(upkeep, "_upkeep", {})
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("disk full")

    register_upkeep("first", lambda: ran.append("first"))
    register_upkeep("broken", broken)
    register_upkeep("last", lambda: ran.append("last"))
    failed = run_upkeep()
    assert ran == ["first", "last"]
    assert [(name, str(exc)) for name, exc in failed] == [("broken", "disk full")]


def test_the_register_keeps_its_word_bands_in_the_worker_upkeep():
    from apcert.core import upkeep

    assert upkeep._upkeep["word index bands"] is word_bands.word_bands_upkeep


# --- on PostgreSQL --------------------------------------------------------------------------

WIDTH = 2


def _bands() -> list[tuple[int, int]]:
    return word_bands._indexed_bands(connection)


def _drop_bands() -> None:
    with connection.cursor() as cursor:
        for low, high in _bands():
            cursor.execute(f"DROP INDEX {word_bands.band_name(low, high)}")
    forget_word_bands()


@pytest.fixture
def register(world: World) -> list[Certificate]:
    """Eight certificates whose holder names all hold "galvanik", in narrow bands of the
    word index (two ids each) after a band from 0 to the first of them."""
    other = dataclasses.replace(World.build(cb_code="NORD"), org_user=world.org_user)
    made = [
        certify(
            world if i % 2 else other,
            name=f"Galvanik {name} GmbH",
            country="DE" if i % 3 else "FR",
            city=city,
        )
        for i, (name, city) in enumerate(
            [
                ("Alpha", "Lyon"),
                ("Beta", "Bonn"),
                ("Gamma", "Lille"),
                ("Delta", "Kiel"),
                ("Epsilon", "Nantes"),
                ("Zeta", "Ulm"),
                ("Eta", "Paris"),
                ("Theta", "Essen"),
            ]
        )
    ]
    return made


@pytest.fixture
def narrow_bands(register: list[Certificate]) -> Iterator[list[tuple[int, int]]]:
    _drop_bands()
    first = min(c.pk for c in register)
    last = max(c.pk for c in register)
    bands = [(0, first)] + [(low, low + WIDTH) for low in range(first, last + 1, WIDTH)]
    for low, high in bands:
        make_word_band(low, high, concurrently=False)
    forget_word_bands()
    yield bands
    forget_word_bands()


def _answer(query: SearchQuery) -> tuple[object, ...]:
    result = search(query)
    return (
        [h.number for h in result.hits],
        [h.status for h in result.hits],
        result.total,
        result.total_exact,
        result.facets,
        result.last_page,
    )


QUERIES = [
    SearchQuery(text="galvanik"),
    SearchQuery(text="galvanik", sort="newest"),
    SearchQuery(text="galvanik", sort="expires"),
    SearchQuery(text="galvanik", sort="changed"),
    SearchQuery(text="galvanik", sort="number", page=2, per_page=3),
    SearchQuery(text="galvanik", country="FR"),
    SearchQuery(text="galvanik gamma"),
    SearchQuery(country="DE", sort="newest"),
    SearchQuery(country="DE", sort="newest", page=2, per_page=2),
    SearchQuery(status="suspended"),
    SearchQuery(status="current", sort="newest", per_page=2, page=3),
]


@postgres
@pytest.mark.django_db
def test_a_banded_search_answers_as_the_whole_index_does(
    register: list[Certificate], narrow_bands: list[tuple[int, int]], world: World, monkeypatch
):
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=register[3],
        reason_category="complaint",
        reason="private words",
    )
    banded = {q: _answer(q) for q in QUERIES}
    # The statements read the bands one by one
    with CaptureQueriesContext(connection) as seen:
        search(SearchQuery(text="galvanik", sort="newest"))
    assert any(" UNION ALL " in q["sql"] and "entry_id <" in q["sql"] for q in seen)
    _drop_bands()
    whole = {q: _answer(q) for q in QUERIES}
    assert banded == whole
    assert banded[QUERIES[0]][2] == len(register)


@postgres
@pytest.mark.django_db
def test_a_search_stops_in_the_first_bands_that_give_its_matches(
    register: list[Certificate], narrow_bands: list[tuple[int, int]], monkeypatch
):
    # With room for three matches (and the fourth that says "more"), the lowest ids
    # come from the first bands in id order, and the newest from the last
    monkeypatch.setattr(search_module, "COUNT_LIMIT", 3)
    ids = sorted(c.pk for c in register)
    words = search_module._words("galvanik")
    stale = search_module._Stale({})
    found = search_module._candidates(words, {}, {}, 4, newest_first=False, stale=stale)
    assert sorted(found) == ids[:4]
    newest = search_module._candidates(words, {}, {}, 4, newest_first=True, stale=stale)
    assert newest == ids[::-1][:4]
    # And the bands past those were never read
    sql, params = search_module._match_ids_sql(words, {}, stale=stale, reach=4)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql} LIMIT 4", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "never executed" in plan
    result = search(SearchQuery(text="galvanik", sort="newest", per_page=2))
    assert not result.total_exact
    assert [h.number for h in result.hits] == [
        c.number for c in sorted(register, key=lambda c: -c.pk)[:2]
    ]


@postgres
@pytest.mark.django_db
def test_the_planner_reads_a_band_through_its_own_index(narrow_bands: list[tuple[int, int]]):
    sql, params = banded_ids_sql(
        "document @@ to_tsquery('simple', %s)",
        ["galvanik"],
        chain(_bands()),
        newest_first=False,
        limit=4,
    )
    with connection.cursor() as cursor:
        # A handful of rows: left to itself the planner reads the table or the primary key.
        # Without them (in this test's transaction only), the band indexes are all it has:
        # it uses one only where it sees that the branch's bounds imply the band's.
        cursor.execute("DROP INDEX register_search_doc_gin")
        cursor.execute("ALTER TABLE register_search_doc DROP CONSTRAINT register_search_doc_pkey")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql} LIMIT 4", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for low, high in narrow_bands:
        assert f"on {word_bands.band_name(low, high)}" in plan
    # The ids past the last band have no band of theirs
    assert plan.count("Seq Scan") == 1


@postgres
@pytest.mark.django_db
def test_a_missing_band_index_changes_no_answer(
    register: list[Certificate], narrow_bands: list[tuple[int, int]]
):
    banded = {q: _answer(q) for q in QUERIES}
    # A band in the middle dropped: the chain stops before it, the open branch reads on
    low, high = narrow_bands[2]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {word_bands.band_name(low, high)}")
    forget_word_bands()
    assert chain(_bands())[-1] == narrow_bands[1]
    assert {q: _answer(q) for q in QUERIES} == banded


@postgres
@pytest.mark.django_db
def test_ensure_makes_the_bands_up_to_one_past_the_highest_id_and_only_those(
    register: list[Certificate],
):
    _drop_bands()
    highest = max(c.pk for c in register)
    made = ensure_word_bands(least=4, concurrently=False)
    bands = chain(_bands())
    assert [word_bands.band_name(*b) for b in bands] == made
    width = band_width(highest, least=4)
    assert bands[0][0] == 0 and bands[-1][1] >= highest + 1 + width
    assert bands[-2][1] <= highest + width  # no more than one band past the highest
    assert ensure_word_bands(least=4, concurrently=False) == []


@postgres
@pytest.mark.django_db
def test_ensure_replaces_a_band_index_a_failed_build_left_invalid(
    register: list[Certificate],
):
    _drop_bands()
    ensure_word_bands(concurrently=False)
    low, high = chain(_bands())[0]
    name = word_bands.band_name(low, high)
    with connection.cursor() as cursor:
        # What an interrupted CREATE INDEX CONCURRENTLY leaves behind
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass", [name]
        )
    assert (low, high) not in _bands()
    assert name in ensure_word_bands(concurrently=False)
    assert (low, high) in _bands()


@postgres
@pytest.mark.django_db
def test_a_rebuild_of_the_index_ends_with_its_bands(register: list[Certificate]):
    _drop_bands()
    index_rebuild()
    bands = chain(_bands())
    assert bands and bands[0][0] == 0
    assert bands[-1][1] > max(c.pk for c in register)


@postgres
@pytest.mark.django_db
def test_the_migrated_database_has_its_bands():
    bands = chain(_bands())
    assert bands and bands[0][0] == 0


@pytest.mark.django_db
def test_sqlite_has_no_bands_and_searches_as_before(register: list[Certificate]):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's FTS5 needs no bands")
    assert word_bands.word_bands(connection) == ()
    assert ensure_word_bands() == []
    assert search(SearchQuery(text="galvanik")).total == len(register)
