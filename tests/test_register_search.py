"""The register search: one selector over FTS5 on SQLite and tsvector with
pg_trgm on PostgreSQL, kept in step with every certificate change in the change's own
transaction. Run on both databases by `make test`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_holder_renamed,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.organizations.services import organization_create, organization_rename, site_create
from apcert.register.index import filter_tag, fold, index_check, index_rebuild, number_key
from apcert.register.models import SearchEntry, SearchFacet
from apcert.register.search import (
    COUNT_LIMIT,
    InvalidSearch,
    SearchQuery,
    close_numbers,
    search,
)
from tests.factories import World

pytestmark = pytest.mark.django_db

SUSPENDED_ON = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _within_the_maximum_suspension() -> Iterator[None]:
    # The register shows a suspension that has run to the scheme's maximum as a withdrawal,
    # whatever the sweep has recorded: these searches read the certificates suspended on
    # SUSPENDED_ON on a day when the suspension still holds.
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 0), tick=False):
        yield


def certify(
    world: World,
    *,
    name: str,
    country: str,
    city: str,
    category: str = "EPL",
    published: bool = True,
    cb_world: World | None = None,
) -> Certificate:
    """A certificate granted to a new organization with one site, through the services."""
    org = organization_create(actor=world.org_user, legal_name=name, country=country)
    site = site_create(
        actor=world.org_user,
        organization=org,
        name=f"{city} works",
        city=city,
        country=country,
        published=published,
    )
    holder = dataclasses.replace(cb_world or world, org=org, site=site, org_user=world.org_user)
    return holder.granted(category=category)


@pytest.fixture
def register(world: World) -> dict[str, Certificate]:
    other = World.build(cb_code="NORD")
    other = dataclasses.replace(other, org_user=world.org_user)
    return {
        "muller": certify(world, name="Müller Galvanik GmbH", country="DE", city="München"),
        "muller_uk": certify(
            world, name="Muller Plating Ltd", country="GB", city="Manchester", category="EPL.SN"
        ),
        "nordic": certify(
            world, name="Nordic Surface AB", country="SE", city="Göteborg", cb_world=other
        ),
    }


def numbers(result_query: SearchQuery) -> list[str]:
    return [hit.number for hit in search(result_query).hits]


# --- words ---------------------------------------------------------------------------------


def test_an_exact_number_comes_first_however_it_is_typed(register: dict[str, Certificate]):
    number = register["muller_uk"].number
    for typed in (number, number.lower(), number.replace(" ", ""), number_key(number)):
        result = search(SearchQuery(text=typed))
        assert [h.number for h in result.hits][:1] == [number], typed


def test_holder_name_matches_rank_before_scope_matches(world: World):
    # Given two holders whose scope wording both say "process at the main plant"
    # (World's wording), one of which also has "Plant" in its name
    in_scope_only = certify(world, name="Acme Coatings Ltd", country="IE", city="Cork")
    in_name_too = certify(world, name="Zeta Plant Coatings Ltd", country="IE", city="Dublin")
    # When searching "plant", which both match
    hits = numbers(SearchQuery(text="plant"))
    # Then the holder named for it comes first, though "Acme" sorts before "Zeta"
    assert hits == [in_name_too.number, in_scope_only.number]
    # And when no holder name holds every word, matches come in holder-name order
    both = [in_scope_only.number, in_name_too.number]
    assert numbers(SearchQuery(text="process plant")) == both
    assert numbers(SearchQuery(text="coatings process")) == both


def test_case_and_accents_do_not_matter(register: dict[str, Certificate]):
    muller, muller_uk = register["muller"].number, register["muller_uk"].number
    assert set(numbers(SearchQuery(text="muller"))) == {muller, muller_uk}
    assert set(numbers(SearchQuery(text="MÜLLER"))) == {muller, muller_uk}
    assert numbers(SearchQuery(text="munchen")) == [muller]
    assert numbers(SearchQuery(text="GOTEBORG")) == [register["nordic"].number]


def test_a_small_typo_is_corrected_and_said(register: dict[str, Certificate]):
    result = search(SearchQuery(text="Galvnaik"))
    assert [h.number for h in result.hits] == [register["muller"].number]
    assert result.corrected == "galvanik"
    # A word that is indexed is never "corrected"
    assert search(SearchQuery(text="Galvanik")).corrected is None


def test_holder_name_exact_ranks_first(register: dict[str, Certificate]):
    hits = numbers(SearchQuery(text="Muller Plating Ltd"))
    assert hits[0] == register["muller_uk"].number


def test_nothing_found_is_an_empty_result(register: dict[str, Certificate]):
    result = search(SearchQuery(text="zzzzqqqq"))
    assert (result.hits, result.total, result.total_exact) == ([], 0, True)


# --- filters and counts --------------------------------------------------------------------


def test_each_filter_narrows_the_results(world: World, register: dict[str, Certificate]):
    muller, muller_uk, nordic = (register[k].number for k in ("muller", "muller_uk", "nordic"))
    everyone = {muller, muller_uk, nordic}
    assert set(numbers(SearchQuery())) == everyone
    assert numbers(SearchQuery(country="DE")) == [muller]
    assert numbers(SearchQuery(cb="NORD")) == [nordic]
    assert numbers(SearchQuery(category="EPL.SN")) == [muller_uk]
    assert set(numbers(SearchQuery(scheme="AP"))) == everyone
    assert set(numbers(SearchQuery(programme="AP"))) == everyone
    assert set(numbers(SearchQuery(standard="ISO 9001"))) == everyone
    assert numbers(SearchQuery(status="suspended")) == []
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=register["muller_uk"],
        reason_category="complaint",
        reason="private words",
        decided_on=SUSPENDED_ON,
    )
    assert numbers(SearchQuery(status="suspended")) == [muller_uk]
    assert numbers(SearchQuery(status="suspended", country="DE")) == []
    assert numbers(SearchQuery(text="muller", status="current")) == [muller]


def test_counts_per_filter_value(world: World, register: dict[str, Certificate]):
    everything = search(SearchQuery())
    countries = {c.value: c.count for c in everything.facets["country"]}
    assert countries == {"DE": 1, "GB": 1, "SE": 1}
    cbs = {c.value: (c.label, c.count) for c in everything.facets["cb"]}
    assert cbs[world.team.cb.code] == (world.team.cb.name, 2)
    assert cbs["NORD"] == ("Cert Body NORD", 1)
    statuses = {c.value: c.count for c in everything.facets["status"]}
    assert statuses == {"current": 3}
    # Counts follow the words and filters
    narrowed = search(SearchQuery(text="muller"))
    assert {c.value: c.count for c in narrowed.facets["country"]} == {"DE": 1, "GB": 1}
    assert {c.value: c.count for c in narrowed.facets["category"]} == {"EPL": 1, "EPL.SN": 1}
    # And the kept totals follow status changes
    certificate_withdraw(
        actor=world.team.decision_maker,
        certificate=register["muller_uk"],
        reason_category="misuse",
        reason="private",
        decided_on=SUSPENDED_ON,
    )
    after = {c.value: c.count for c in search(SearchQuery()).facets["status"]}
    assert after == {"current": 2, "withdrawn": 1}


def test_pages_and_sorting(register: dict[str, Certificate]):
    by_holder = numbers(SearchQuery(sort="holder", per_page=10))
    assert by_holder == [register[k].number for k in ("muller", "muller_uk", "nordic")]
    pages = [numbers(SearchQuery(sort="holder", per_page=1, page=p)) for p in (1, 2, 3)]
    assert pages == [[n] for n in by_holder]
    result = search(SearchQuery(sort="holder", per_page=1, page=2))
    assert (result.total, result.pages) == (3, 3)
    by_number = numbers(SearchQuery(sort="number"))
    assert by_number == sorted(by_number)
    assert numbers(SearchQuery(sort="holder", per_page=10, page=2)) == []


def test_parameters_are_checked():
    query = SearchQuery.from_params(
        {"q": "  Müller   GmbH ", "country": "DE", "sort": "expires", "page": "2"}
    )
    assert (query.text, query.country, query.sort, query.page) == (
        "Müller GmbH",
        "DE",
        "expires",
        2,
    )
    assert SearchQuery.from_params(query.to_params()) == query
    for bad in (
        {"sort": "price"},
        {"status": "draft"},
        {"page": "0"},
        {"page": "two"},
        {"per_page": "1000"},
        {"q": "x" * 201},
    ):
        with pytest.raises(InvalidSearch) as caught:
            SearchQuery.from_params(bad)
        assert caught.value.code == "search.invalid"


def test_close_numbers_suggest_neighbours(register: dict[str, Certificate]):
    number = register["muller"].number
    mistyped = number[:-1] + ("9" if number[-1] != "9" else "8")
    assert number in close_numbers(mistyped)
    assert close_numbers("IEC") == []


# --- what the index holds, and when ----------------------------------------------------


def test_an_unpublished_site_never_reaches_the_index(world: World):
    cert = certify(
        world, name="Quiet Works GmbH", country="DE", city="Geheimstadt", published=False
    )
    assert numbers(SearchQuery(text="Geheimstadt")) == []
    assert numbers(SearchQuery(text="Quiet Works")) == [cert.number]
    entry = SearchEntry.objects.get(pk=cert.pk)
    assert "Geheimstadt" not in entry.cities + entry.document


def test_the_index_follows_every_change_in_the_same_transaction(
    world: World, register: dict[str, Certificate]
):
    dm = world.team.decision_maker
    cert = certificate_suspend(
        actor=dm,
        certificate=register["muller"],
        reason_category="complaint",
        reason="x",
        decided_on=SUSPENDED_ON,
    )
    assert SearchEntry.objects.get(pk=cert.pk).status == "suspended"
    cert = certificate_restore(
        actor=dm, certificate=cert, reason="closed", decided_on=SUSPENDED_ON + dt.timedelta(1)
    )
    organization_rename(
        actor=world.secretariat,
        organization=cert.organization,
        legal_name="Müller Oberflächen GmbH",
    )
    cert = certificate_holder_renamed(
        actor=dm, certificate=cert, decided_on=SUSPENDED_ON + dt.timedelta(2)
    )
    assert numbers(SearchQuery(text="oberflachen")) == [cert.number]
    assert index_check() == []


def test_a_rolled_back_change_leaves_the_index_as_it_was(
    world: World, register: dict[str, Certificate]
):
    before = list(SearchEntry.objects.order_by("pk").values_list("pk", "status"))
    with pytest.raises(RuntimeError), transaction.atomic():
        certificate_suspend(
            actor=world.team.decision_maker,
            certificate=register["muller_uk"],
            reason_category="complaint",
            reason="x",
            decided_on=SUSPENDED_ON,
        )
        assert numbers(SearchQuery(status="suspended")) == [register["muller_uk"].number]
        raise RuntimeError("the process dies before commit")
    assert list(SearchEntry.objects.order_by("pk").values_list("pk", "status")) == before
    assert numbers(SearchQuery(status="suspended")) == []
    assert index_check() == []


def test_index_check_names_what_is_out_of_step(register: dict[str, Certificate]):
    SearchFacet.objects.filter(entry_id=register["muller"].pk, facet="country").delete()
    SearchEntry.objects.filter(pk=register["nordic"].pk).update(holder_name="Someone Else")
    SearchEntry.objects.filter(pk=register["muller_uk"].pk).update(csv_row=None)
    problems = index_check()
    assert f"{register['muller_uk'].number}: csv_row differs" in problems
    assert f"{register['muller'].number}: filter values differ" in problems
    assert f"{register['nordic'].number}: holder_name differs" in problems
    assert "filter value totals differ" not in problems  # totals were not touched
    assert index_rebuild() == 3
    assert index_check() == []


def _replace_filter_tags(pk: int, tags: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE register_search_doc SET document = ts_delete(document, ARRAY(SELECT"
                " lexeme FROM unnest(document) WHERE lexeme ~ '^[a-z]+x[0-9a-f]+$'))"
                " || %s::tsvector WHERE entry_id = %s",
                [tags, pk],
            )
        else:
            cursor.execute("UPDATE register_search_fts SET tags = %s WHERE rowid = %s", [tags, pk])


def test_filters_are_answered_from_the_word_index(register: dict[str, Certificate]):
    muller = register["muller"]
    assert filter_tag("country", "DE") == "countryx4445"
    assert numbers(SearchQuery(text="muller", country="DE")) == [muller.number]
    # The word index row of the certificate loses its filter values: the filters no longer
    # find it (they are answered there, not from the lookup table), and the check says so.
    _replace_filter_tags(muller.pk, filter_tag("country", "ZZ"))
    assert numbers(SearchQuery(text="muller", country="DE")) == []
    assert numbers(SearchQuery(country="DE", status="current")) == []
    assert "1 word index rows have other filter values than their entry" in index_check()
    assert index_rebuild() == 3
    assert numbers(SearchQuery(country="DE", status="current")) == [muller.number]
    assert index_check() == []


def test_the_filter_tags_migration_fills_an_existing_index(live_db: None, world: World):
    certify(world, name="Müller Galvanik GmbH", country="DE", city="München")
    certify(world, name="Muller Plating Ltd", country="GB", city="Leeds", category="EPL.SN")
    before = [numbers(SearchQuery(text="muller", category=c)) for c in ("EPL", "EPL.SN")]
    assert all(len(found) == 1 for found in before)
    try:
        call_command("migrate", "register", "0002", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM register_search_doc WHERE document @@ 'countryx4445'::tsquery"
                if connection.vendor == "postgresql"
                else "SELECT count(*) FROM pragma_table_info('register_search_fts')"
                " WHERE name = 'tags'"
            )
            assert cursor.fetchone()[0] == 0
    finally:
        call_command("migrate", "register", verbosity=0)
    assert [numbers(SearchQuery(text="muller", category=c)) for c in ("EPL", "EPL.SN")] == before
    assert index_check() == []


def test_reindex_command(register: dict[str, Certificate]):
    out = StringIO()
    call_command("reindex", "--quiet", stdout=out)
    assert out.getvalue().strip() == "reindex: 3 certificates indexed"
    out = StringIO()
    call_command("reindex", "--check", stdout=out)
    assert "in step" in out.getvalue()
    SearchEntry.objects.filter(pk=register["muller"].pk).delete()
    with pytest.raises(CommandError, match="out of step"):
        call_command("reindex", "--check", stdout=StringIO())


def test_fold():
    assert fold("Müller-Lötech GmbH & Co. KG") == "muller lotech gmbh co kg"
    assert fold("  ÅSA  ") == "asa"
    assert number_key("iecq-a xx 26.0001") == "IECQAXX260001"


def test_broad_searches_give_a_lower_bound_not_a_count(
    world: World, register: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch
):
    import apcert.register.search as module

    monkeypatch.setattr(module, "COUNT_LIMIT", 2)
    monkeypatch.setattr(module, "FACET_LIMIT", 1)
    result = search(SearchQuery(text="process"))
    assert (result.total, result.total_exact, result.facets) == (2, False, {})
    assert len(result.hits) == 3  # the page still lists every match it holds
    assert COUNT_LIMIT == 500


def test_the_word_index_is_the_databases_own(register: dict[str, Certificate]):
    table = "register_search_doc" if connection.vendor == "postgresql" else "register_search_fts"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        assert cursor.fetchone()[0] == 3


def test_a_nul_character_is_refused_not_a_server_error(client):  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidSearch):
        SearchQuery.from_params({"country": "D\x00E"})
    for url in ("/?standard=ISO%009001", "/?country=D%00E", "/certificates/IECQ%00A"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "NUL" in response.content.decode()


def test_without_words_the_newest_certificates_come_first(
    register: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch
):
    import apcert.register.search as module

    newest = [c.number for c in sorted(register.values(), key=lambda c: -c.pk)]
    assert numbers(SearchQuery()) == newest
    assert numbers(SearchQuery(status="current", scheme="AP")) == newest
    assert numbers(SearchQuery(text="process", sort="newest")) == newest
    # more matches than counted: the word index is read backwards, page after page
    monkeypatch.setattr(module, "COUNT_LIMIT", 1)
    pages = [numbers(SearchQuery(scheme="AP", per_page=1, page=p)) for p in (1, 2, 3, 4)]
    assert pages == [[n] for n in newest] + [[]]
    assert numbers(SearchQuery(text="process", sort="newest", per_page=2, page=2)) == newest[2:]
    # a page within the matches already read newest first is cut from them, not read again
    word_index = (
        "register_search_doc" if connection.vendor == "postgresql" else "register_search_fts"
    )
    with CaptureQueriesContext(connection) as read:
        assert numbers(SearchQuery(scheme="AP", per_page=1, page=2)) == newest[1:2]
    assert sum(word_index in q["sql"] for q in read.captured_queries) == 1


def test_broad_searches_in_other_orders_walk_the_index(
    register: dict[str, Certificate], monkeypatch: pytest.MonkeyPatch
):
    import apcert.register.search as module

    monkeypatch.setattr(module, "COUNT_LIMIT", 1)
    by_holder = [register[k].number for k in ("muller", "muller_uk", "nordic")]
    # words, more matches than counted, ordered by holder: every match, in order
    result = search(SearchQuery(text="process", sort="holder"))
    assert ([h.number for h in result.hits], result.total_exact) == (by_holder, False)
    # filters alone, the rarest value drives: still every match
    result = search(SearchQuery(status="current", scheme="AP", sort="holder", per_page=2))
    assert [h.number for h in result.hits] == by_holder[:2]
    assert (result.total, result.total_exact) == (1, False)
    # a filter value nobody has
    assert search(SearchQuery(country="ZZ")).hits == []
