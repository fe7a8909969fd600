"""Keeping the search index of the public register in step.

Every service that changes what the register shows of a certificate (a grant, a new issue, a
status change, a transfer) calls :func:`index_certificate` inside its own transaction, next to
its audit event, so the index can never show a change that was rolled back nor miss one that
was committed. :func:`index_rebuild` makes the whole index again (after a bulk load, or with
``apcert reindex``), in one transaction. :func:`index_check` compares the index with a fresh
build and names every difference.

Only public fields go in: the number, the holder name and country, the
published sites, scheme, programmes, scope wording and categories, standards, the CB and the
status. A draft has no entry.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import unicodedata
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import F, Prefetch

from apcert.bodies.models import CertificationBody
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.core.db import create_indexes, drop_indexes, insert_rows
from apcert.core.processes import end_with_parent
from apcert.register import selectors
from apcert.register.documents import certificate_document_from, document_json, transfer_of
from apcert.register.exports import csv_line
from apcert.register.models import SearchEntry, SearchFacet, SearchFacetTotal, SearchWord
from apcert.register.word_bands import ensure_word_bands
from apcert.schemes.models import Scheme

_NOT_WORD = re.compile(r"[^0-9a-z]+")
_NOT_KEY = re.compile(r"[^0-9A-Z]+")
#: Words shorter than this are not kept for typo correction (nor corrected).
WORD_MIN = 3


def fold(text: str) -> str:
    """Lower case, accents dropped, anything but letters and digits a single space:
    ``"Müller-Lötech GmbH"`` -> ``"muller lotech gmbh"``. The index and the search words go
    through the same folding, so that case and accents never matter."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", text.casefold()).strip()


def number_key(text: str) -> str:
    """A certificate number without case, spaces or punctuation: ``IECQAXX260001``."""
    folded = unicodedata.normalize("NFKD", text).upper()
    return _NOT_KEY.sub("", folded)


@dataclass
class EntryData:
    """Everything the index holds of one certificate."""

    fields: dict[str, Any]
    facets: set[tuple[str, str]]
    text: tuple[str, str, str, str]  # number, holder, places, scope (folded)
    words: set[str] = field(default_factory=set)

    @property
    def tags(self) -> str:
        """The entry's filter values as word-index tokens (:func:`filter_tag`)."""
        return " ".join(sorted(tags_of(self.facets)))


def filter_tag(facet: str, value: str) -> str:
    """The token that stands for one filter value in the word index: the facet name, ``x``
    and the value's UTF-8 bytes in hex (``country`` ``DE`` -> ``countryx4445``). Letters and
    digits only, so that both FTS5's tokenizer and a ``tsvector`` keep it whole, and no
    folding can make two values one. Searching filters in the word index lets FTS5 and GIN
    intersect them with the words and with each other, skipping through their lists,
    instead of probing a lookup table once per candidate."""
    return f"{facet}x{value.encode().hex()}"


def _public_certificates() -> Any:
    issues = CertificateIssue.objects.order_by("issue_number")
    return (
        selectors.public_certificates()
        .select_related("cb", "scheme")
        .prefetch_related(
            Prefetch("issues", queryset=issues),
            Prefetch(
                "status_changes",
                queryset=CertificateStatusChange.objects.order_by("effective_on", "id"),
            ),
        )
    )


def entry_data(
    certificate: Certificate, transfer: selectors.TransferLinks | None = None
) -> EntryData:
    """The index entry of a public certificate, which must carry the prefetches of
    :func:`apcert.register.selectors.public_certificate`; ``transfer``, its transfer links
    when read for a whole chunk at once."""
    issue = selectors.latest_issue(certificate)
    assert issue is not None  # a public certificate has had an issue since its grant
    changes = selectors.status_changes_of(certificate)
    return entry_data_from(
        certificate,
        issue,
        changes[-1].reason_category if changes else None,
        transfer if transfer is not None else transfer_of(certificate),
    )


def entry_data_from(
    certificate: Certificate,
    issue: CertificateIssue,
    status_reason_category: str | None,
    transfer: selectors.TransferLinks,
) -> EntryData:
    """:func:`entry_data` from pieces read in bulk (see
    :func:`apcert.register.documents.certificate_document_from`)."""
    holder = selectors.holder_of(issue)
    sites = selectors.published_sites(issue)
    lines = selectors.public_scope_lines(issue)
    programmes = [p["code"] for p in issue.programmes]
    categories = sorted({line["category"] for line in lines})
    standards = sorted({s["designation"] for s in issue.standards})
    cities = sorted({str(s["city"]) for s in sites if s.get("city")})
    places = " ".join([*cities, *(str(s["name"]) for s in sites)])
    scope = " ".join(
        [
            *(line["wording"] for line in lines),
            *(line["category_name"] for line in lines),
            *(line["category"] for line in lines),
            *(p["name"] for p in issue.programmes),
            *(f"{s['designation']} {s['title']}" for s in issue.standards),
        ]
    )
    text = (
        fold(certificate.number),
        fold(str(holder["name"])),
        fold(places),
        fold(scope),
    )
    words = {
        w for w in set(" ".join(text[1:]).split()) if WORD_MIN <= len(w) <= 100 and not w.isdigit()
    }
    facets = {
        ("status", certificate.status),
        ("scheme", certificate.scheme.code),
        ("country", str(holder["country"])),
        ("cb", certificate.cb.code),
        *(("programme", code) for code in programmes),
        *(("category", code) for code in categories),
        *(("standard", designation) for designation in standards),
    }
    document = certificate_document_from(certificate, issue, status_reason_category, transfer)
    return EntryData(
        fields={
            "certificate_id": certificate.pk,
            "number": certificate.number,
            "number_key": number_key(certificate.number),
            "holder_name": str(holder["name"]),
            "holder_key": fold(str(holder["name"])),
            "country": str(holder["country"]),
            "organization_id": certificate.organization_id,
            "cb_code": certificate.cb.code,
            "cb_name": certificate.cb.name,
            "scheme_code": certificate.scheme.code,
            "status": certificate.status,
            "status_since": certificate.status_since,
            "expires_on": certificate.expires_on,
            "programmes": " ".join(programmes),
            "categories": " ".join(categories),
            "cities": "\n".join(cities),
            "document": document_json(document),
            "csv_row": csv_line(document),
        },
        facets=facets,
        text=text,
        words=words,
    )


# --- the database-specific word index --------------------------------------------------

_PG_DOCUMENT = (
    "setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'B')"
    " || setweight(to_tsvector('simple', %s), 'C') || setweight(to_tsvector('simple', %s), 'D')"
    " || %s::tsvector"
)


def _write_text(
    rows: list[tuple[int, tuple[str, str, str, str], str]], *, fresh: bool = False
) -> None:
    """Write the word index rows: ``(entry id, folded text, filter tags)``; ``fresh``: the
    word index holds none of these entries (a rebuild emptied it), so nothing is replaced."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            conflict = (
                ""
                if fresh
                else (" ON CONFLICT (entry_id) DO UPDATE SET document = EXCLUDED.document")
            )
            cursor.executemany(
                f"INSERT INTO register_search_doc (entry_id, document) VALUES (%s, {_PG_DOCUMENT})"
                + conflict,
                [(pk, *text, tags) for pk, text, tags in rows],
            )
        else:
            if not fresh:
                cursor.executemany(
                    "DELETE FROM register_search_fts WHERE rowid = %s",
                    [(pk,) for pk, _, _ in rows],
                )
            cursor.executemany(
                "INSERT INTO register_search_fts (rowid, number, holder, places, scope, tags)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [(pk, *text, tags) for pk, text, tags in rows],
            )


def _delete_text(pks: list[int]) -> None:
    table, column = (
        ("register_search_doc", "entry_id")
        if connection.vendor == "postgresql"
        else ("register_search_fts", "rowid")
    )
    with connection.cursor() as cursor:
        cursor.executemany(f"DELETE FROM {table} WHERE {column} = %s", [(pk,) for pk in pks])


def _add_words(words: Iterable[str]) -> None:
    wanted = set(words)
    if not wanted:
        return
    known = set(SearchWord.objects.filter(word__in=wanted).values_list("word", flat=True))
    new = sorted(wanted - known)
    if not new:
        return
    created = SearchWord.objects.bulk_create(
        [SearchWord(word=w) for w in new], ignore_conflicts=connection.vendor == "postgresql"
    )
    if connection.vendor == "sqlite":
        # SQLite writes one transaction at a time, so the words found missing above are
        # still missing here, and bulk_create returned their ids.
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO register_search_words (rowid, word) VALUES (%s, %s)",
                [(w.pk, w.word) for w in created],
            )


def _adjust_totals(delta: Counter[tuple[str, str]]) -> None:
    changes = sorted((key, n) for key, n in delta.items() if n)
    if not changes:
        return
    # Sorted, so that concurrent transactions take the total rows' locks in the same order.
    with connection.cursor() as cursor:
        for (facet, value), n in changes:
            if n > 0:
                cursor.execute(
                    "INSERT INTO register_searchfacettotal (facet, value, count)"
                    " VALUES (%s, %s, %s) ON CONFLICT (facet, value) DO UPDATE"
                    " SET count = register_searchfacettotal.count + EXCLUDED.count",
                    [facet, value, n],
                )
            else:
                # A negative row would fail the CHECK before ON CONFLICT is considered.
                cursor.execute(
                    "UPDATE register_searchfacettotal SET count = count + %s"
                    " WHERE facet = %s AND value = %s",
                    [n, facet, value],
                )


# --- keeping one certificate in step ---------------------------------------------------


def index_certificate(certificate: Certificate) -> None:
    """Bring the index entry of ``certificate`` in step with the database: write it, or
    remove it when the certificate is not public. Runs inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("index_certificate() must run inside the service's transaction")
    pk = certificate.pk
    fresh = _public_certificates().filter(pk=pk).first()
    old = set(SearchFacet.objects.filter(entry_id=pk).values_list("facet", "value"))
    if fresh is None:
        if old or SearchEntry.objects.filter(pk=pk).exists():
            SearchEntry.objects.filter(pk=pk).delete()
            _adjust_totals(Counter({key: -1 for key in old}))
        _delete_text([pk])
        return
    data = entry_data(fresh)
    values = dict(data.fields)
    values.pop("certificate_id")
    SearchEntry.objects.update_or_create(certificate_id=pk, defaults=values)
    removed, added = old - data.facets, data.facets - old
    if removed:
        for facet, value in removed:
            SearchFacet.objects.filter(entry_id=pk, facet=facet, value=value).delete()
    SearchFacet.objects.bulk_create(
        [SearchFacet(entry_id=pk, facet=f, value=v) for f, v in sorted(added)]
    )
    delta: Counter[tuple[str, str]] = Counter({key: 1 for key in added})
    delta.update({key: -1 for key in removed})
    _adjust_totals(delta)
    _write_text([(pk, data.text, data.tags)])
    _add_words(data.words)


# --- the whole index -------------------------------------------------------------------

CHUNK = 2_000


def _build_range(first: int, last: int, only: list[int] | None = None) -> list[EntryData]:
    """The entries of the public certificates with ids from ``first`` to ``last``.

    Read for bulk, not through the prefetches of one certificate's page: the certificates
    of the range, their latest issues, the reason of their latest status change and their
    transfer links are read in one query each, and the CBs and schemes (tables of a few
    rows) in one more each. Building the index of a million certificates this way spends
    its time on the entries rather than on the ORM."""
    cbs = {cb.pk: cb for cb in CertificationBody.objects.all()}
    schemes = {scheme.pk: scheme for scheme in Scheme.objects.all()}
    certificates = list(
        selectors.public_certificates()
        .filter(pk__gte=first, pk__lte=last)
        .filter(**({} if only is None else {"pk__in": only}))
        .order_by("pk")
        .only(*_CERTIFICATE_FIELDS)
    )
    issues = {
        issue.certificate_id: issue
        for issue in CertificateIssue.objects.filter(
            certificate_id__gte=first,
            certificate_id__lte=last,
            issue_number=F("certificate__current_issue_number"),
        )
    }
    reasons = dict(
        CertificateStatusChange.objects.filter(certificate_id__gte=first, certificate_id__lte=last)
        .order_by("certificate_id", "effective_on", "id")
        .values_list("certificate_id", "reason_category")
    )  # the latest change of each certificate comes last, and stays
    links = selectors.transfer_links([c.pk for c in certificates])
    built = []
    for certificate in certificates:
        certificate.cb = cbs[certificate.cb_id]
        certificate.scheme = schemes[certificate.scheme_id]
        built.append(
            entry_data_from(
                certificate,
                issues[certificate.pk],
                reasons.get(certificate.pk),
                links.get(certificate.pk, selectors.NO_TRANSFER),
            )
        )
    return built


def index_certificates_many(pks: list[int], progress: Callable[[int], None] | None = None) -> int:
    """Bring the index entries of many certificates in step at once (a bulk import): each
    CHUNK of them read as a rebuild reads a range, their old entries (if any) taken out and
    the new ones written together, the totals and words adjusted once. What
    :func:`index_certificate` does for one, for thousands. Runs inside the caller's
    transaction. Returns the number of entries written."""
    if not connection.in_atomic_block:
        raise RuntimeError("index_certificates_many() must run inside the caller's transaction")
    done = written = 0
    totals: Counter[tuple[str, str]] = Counter()
    words: set[str] = set()
    ordered = sorted(set(pks))
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        # Only the entries there are are taken out (a new certificate has none).
        indexed = list(SearchEntry.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        if indexed:
            old = SearchFacet.objects.filter(entry_id__in=indexed)
            totals.subtract(list(old.values_list("facet", "value")))
            old.delete()
            SearchEntry.objects.filter(pk__in=indexed).delete()
            _delete_text(indexed)
        built = _build_range(chunk[0], chunk[-1], only=chunk)
        insert_rows(
            "register_searchentry",
            _ENTRY_COLUMNS,
            [tuple(d.fields[c] for c in _ENTRY_COLUMNS) for d in built],
        )
        insert_rows(
            "register_searchfacet",
            ("entry_id", "facet", "value"),
            [(d.fields["certificate_id"], f, v) for d in built for f, v in sorted(d.facets)],
        )
        _write_text([(d.fields["certificate_id"], d.text, d.tags) for d in built], fresh=True)
        for d in built:
            totals.update(d.facets)
            words |= d.words
        written += len(built)
        done += len(chunk)
        if progress is not None:
            progress(done)
    _adjust_totals(totals)
    _add_words(words)
    # The bands of the word index for the ids written (PostgreSQL).
    ensure_word_bands(concurrently=False)
    return written


def _ranges() -> list[tuple[int, int]]:
    """The public certificates' ids as ranges of CHUNK certificates, in order. The last is
    open-ended: a certificate granted since is in it (ids only grow)."""
    ids = list(selectors.public_certificates().order_by("pk").values_list("pk", flat=True))
    ranges = [(ids[i], ids[min(i + CHUNK, len(ids)) - 1]) for i in range(0, len(ids), CHUNK)]
    if ranges:
        ranges[-1] = (ranges[-1][0], _NO_END)
    return ranges


#: An id past every certificate's.
_NO_END = 2**62


def _chunks() -> Iterator[list[EntryData]]:
    """Every public certificate's entry, CHUNK at a time in id order, built here."""
    for first, last in _ranges():
        yield _build_range(first, last)


#: From this many public certificates on, a rebuild builds the entries in a process a core
#: while this one writes them: building is most of the work, and it parallelizes.
PARALLEL_FROM = 20_000
#: Ranges handed to the pool and not yet written, per process of the pool: enough to keep
#: every process busy, few enough to bound the memory the built entries take.
_IN_FLIGHT_PER_WORKER = 2


def _build_workers(ranges: int) -> int:
    """How many processes build the entries of a rebuild: one a core for a large index, when
    other processes can see what this one sees (a database file or server, outside a
    transaction); else none but this one."""
    if ranges * CHUNK < PARALLEL_FROM or connection.in_atomic_block:
        return 1
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def _built_chunks(ranges: list[tuple[int, int]]) -> Iterator[Iterator[list[EntryData]]]:
    """The entries of ``ranges`` in order, built by a pool of processes when that is worth
    it (:func:`_build_workers`). The pool is started before the caller opens its
    transaction, with no connection open, so that no process shares this one's."""
    workers = _build_workers(len(ranges))
    if workers == 1:
        yield (_build_range(first, last) for first, last in ranges)
        return
    connections.close_all()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=end_with_parent,
        initargs=(os.getpid(),),
    )
    window = workers * _IN_FLIGHT_PER_WORKER
    pending = deque(pool.submit(_build_range, *r) for r in ranges[:window])  # forks the pool

    def results() -> Iterator[list[EntryData]]:
        following = iter(ranges[window:])
        while pending:
            built = pending.popleft().result()
            for first, last in itertools.islice(following, 1):
                pending.append(pool.submit(_build_range, first, last))
            yield built

    try:
        yield results()
    finally:
        pool.shutdown(cancel_futures=True)


#: The certificate's columns that an entry and its document read.
_CERTIFICATE_FIELDS = (
    "number",
    "status",
    "status_since",
    "first_issued_on",
    "expires_on",
    "cb_id",
    "scheme_id",
    "organization_id",
    "transferred_from_id",
    "current_issue_number",
)


def build_all() -> Iterator[EntryData]:
    """Every public certificate's entry, freshly built, in id order."""
    for chunk in _chunks():
        yield from chunk


_ENTRY_COLUMNS = (
    "certificate_id",
    "number",
    "number_key",
    "holder_name",
    "holder_key",
    "country",
    "organization_id",
    "cb_code",
    "cb_name",
    "scheme_code",
    "status",
    "status_since",
    "expires_on",
    "programmes",
    "categories",
    "cities",
    "document",
    "csv_row",
)


def index_rebuild(progress: Callable[[int], None] | None = None) -> int:
    """Empty the index and build it again from the certificates, in one transaction: a
    rebuild that dies half-way leaves the old index whole. Returns the number of entries;
    ``progress`` is called with the count done after each chunk."""
    done = 0
    totals: Counter[tuple[str, str]] = Counter()
    words: set[str] = set()
    ranges = _ranges()
    large = len(ranges) * CHUNK >= PARALLEL_FROM
    with _built_chunks(ranges) as chunks, transaction.atomic():
        with connection.cursor() as cursor:
            for table in ("register_searchfacet", "register_searchfacettotal"):
                cursor.execute(f"DELETE FROM {table}")
            cursor.execute("DELETE FROM register_searchentry")
            if connection.vendor == "postgresql":
                cursor.execute("DELETE FROM register_search_doc")
            else:
                cursor.execute("DELETE FROM register_search_fts")
                cursor.execute("DELETE FROM register_search_words")
                if large:  # no merging of FTS5's segments on the way: one at the end
                    cursor.execute(_FTS_AUTOMERGE, [0])
            cursor.execute("DELETE FROM register_searchword")
        # Made again at the end, in one sorted pass each, in this transaction (on PostgreSQL
        # the GIN word index too: made whole at once, it is smaller than one grown entry by
        # entry).
        tables = ["register_searchentry", "register_searchfacet"]
        if connection.vendor == "postgresql":
            tables.append("register_search_doc")
        dropped = drop_indexes(tables) if large else []
        for built in chunks:
            insert_rows(
                "register_searchentry",
                _ENTRY_COLUMNS,
                [tuple(d.fields[c] for c in _ENTRY_COLUMNS) for d in built],
            )
            insert_rows(
                "register_searchfacet",
                ("entry_id", "facet", "value"),
                [(d.fields["certificate_id"], f, v) for d in built for f, v in sorted(d.facets)],
            )
            _write_text([(d.fields["certificate_id"], d.text, d.tags) for d in built], fresh=True)
            for d in built:
                totals.update(d.facets)
                words |= d.words
            done += len(built)
            if progress is not None:
                progress(done)
        create_indexes(dropped)
        _adjust_totals(totals)
        _add_words(words)
        optimize_word_index()
        # The bands of the word index for the ids written (PostgreSQL).
        ensure_word_bands(concurrently=False)
        if large and connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(_FTS_AUTOMERGE, [FTS_AUTOMERGE])
    return done


#: FTS5's own default: merge a level's segments once it holds this many.
FTS_AUTOMERGE = 4
_FTS_AUTOMERGE = (
    "INSERT INTO register_search_fts (register_search_fts, rank) VALUES ('automerge', %s)"
)


def optimize_word_index() -> None:
    """After a bulk write, merge SQLite's FTS5 segments into one b-tree, so that a search
    reads one list per word instead of one per segment. On PostgreSQL, merge into the GIN
    index any entries still waiting in its pending list, which every search would read
    whole (the index takes writes directly since migration 0008; an index made before it,
    or restored with other settings, may still gather some)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "INSERT INTO register_search_fts (register_search_fts) VALUES ('optimize')"
            )
        elif connection.vendor == "postgresql":
            cursor.execute("SELECT gin_clean_pending_list('register_search_doc_gin'::regclass)")


def index_check() -> list[str]:
    """Differences between the index and a fresh build: an empty list when in step."""
    problems: list[str] = []
    stored = {
        row["certificate_id"]: row
        for row in SearchEntry.objects.values(*_ENTRY_COLUMNS).order_by("certificate_id")
    }
    facets: dict[int, set[tuple[str, str]]] = {}
    for entry_id, facet, value in SearchFacet.objects.values_list("entry_id", "facet", "value"):
        facets.setdefault(entry_id, set()).add((facet, value))
    totals: Counter[tuple[str, str]] = Counter()
    tags: dict[int, set[str]] = {}
    for data in build_all():
        pk = data.fields["certificate_id"]
        tags[pk] = tags_of(data.facets)
        totals.update(data.facets)
        row = stored.get(pk)
        if row is None:
            problems.append(f"{data.fields['number']}: missing from the index")
            continue
        for column in _ENTRY_COLUMNS:
            if row[column] != data.fields[column]:
                problems.append(f"{data.fields['number']}: {column} differs")
        if facets.get(pk, set()) != data.facets:
            problems.append(f"{data.fields['number']}: filter values differ")
    for pk in sorted(set(stored) - set(tags)):
        problems.append(f"{stored[pk]['number']}: in the index but not public")
    kept = {(t.facet, t.value): t.count for t in SearchFacetTotal.objects.all() if t.count != 0}
    if kept != dict(totals):
        problems.append("filter value totals differ")
    problems.extend(_check_text(tags, set(stored)))
    return problems


_TAG = re.compile(
    r"^(?:status|scheme|programme|category|standard|country|cb|countrystatus)x[0-9a-f]+$"
)


def pair_tag(country: str, status: str) -> str:
    """The token of a country and a status together ("current suppliers in Germany"): the
    most common pair of filters, each held by many entries (three certificates in four are
    current). Reading the pair's own short list costs far less than skipping through two
    long ones in step."""
    return filter_tag("countrystatus", f"{country} {status}")


def tags_of(facets: Iterable[tuple[str, str]]) -> set[str]:
    """The word-index tokens of an entry's filter values, the country-and-status pair
    included."""
    pairs = set(facets)
    tags = {filter_tag(facet, value) for facet, value in pairs}
    single = {facet: value for facet, value in pairs if facet in ("country", "status")}
    if len(single) == 2:
        tags.add(pair_tag(single["country"], single["status"]))
    return tags


def _check_text(expected: dict[int, set[str]], pks: set[int]) -> list[str]:
    """Word index rows missing, left over, or with other filter tags than the entry's."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT entry_id, tsvector_to_array(document) FROM register_search_doc")
            indexed = {
                int(pk): {w for w in lexemes if _TAG.match(w)} for pk, lexemes in cursor.fetchall()
            }
        else:
            cursor.execute("SELECT rowid, tags FROM register_search_fts")
            indexed = {int(pk): set(tags.split()) for pk, tags in cursor.fetchall()}
    missing, extra = pks - set(indexed), set(indexed) - pks
    stale = sum(1 for pk in pks & set(indexed) if indexed[pk] != expected.get(pk, set()))
    out = []
    if missing:
        out.append(f"{len(missing)} entries have no word index row")
    if extra:
        out.append(f"{len(extra)} word index rows have no entry")
    if stale:
        out.append(f"{stale} word index rows have other filter values than their entry")
    return out


__all__ = [
    "EntryData",
    "build_all",
    "entry_data",
    "filter_tag",
    "fold",
    "index_certificate",
    "index_check",
    "index_rebuild",
    "number_key",
    "optimize_word_index",
    "pair_tag",
]
