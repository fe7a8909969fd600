"""Lists in the back office: search, filter, sort and page a queryset from the query string.

A view passes a queryset that its selector has already limited to what the viewer may see;
this module only narrows and orders it. Unknown filter values and sort keys are ignored
(the list falls back to its default), so a hand-edited address never gives an error page.
Every list of every section goes through :func:`list_page` and is shown with the shared
partials ``web/_list_controls.html`` and ``web/_pager.html``.

Pages are read with LIMIT and OFFSET and the count stops at ``COUNT_CAP``: a list of a
million rows costs no more to count than one of ``COUNT_CAP``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest

PER_PAGE = 25
COUNT_CAP = 10_000
MAX_QUERY = 100


@dataclass(frozen=True)
class ChoiceFilter:
    """A filter on one field with a closed set of values, e.g. a status."""

    param: str
    lookup: str
    choices: Sequence[tuple[str, str]]
    label: str = ""


@dataclass(frozen=True)
class TextFilter:
    """A filter on one field with a short typed value, e.g. a two-letter country code.
    ``clean`` turns the typed value into the one to filter on, or "" to ignore it."""

    param: str
    lookup: str
    label: str
    clean: Callable[[str], str] = str.strip
    hint: str = ""
    size: int = 10


@dataclass(frozen=True)
class Search:
    """The list's text search (``?q=``): the fields it looks in, any of them matching."""

    label: str
    lookups: Sequence[str]

    def apply(self, queryset: QuerySet[Any], text: str) -> QuerySet[Any]:
        condition = Q()
        for lookup in self.lookups:
            condition |= Q(**{lookup: text})
        return queryset.filter(condition)


@dataclass(frozen=True)
class Sort:
    """A sort key the list offers: its label and the ORM ordering it stands for."""

    label: str
    ordering: tuple[str, ...]


@dataclass(frozen=True)
class CappedPage:
    """One page of a list; ``count`` stops at ``COUNT_CAP`` (``capped`` then says so)."""

    items: list[Any]
    number: int
    per_page: int
    count: int
    capped: bool
    has_next: bool

    @property
    def object_list(self) -> list[Any]:
        return self.items

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.items) - 1 if self.items else 0

    @property
    def last_page(self) -> int:
        return max((self.count - 1) // self.per_page + 1, 1)


def capped_page(queryset: QuerySet[Any], page: str | None, *, per_page: int) -> CappedPage:
    """Page ``page`` (1-based, clamped) of an ordered ``queryset``."""
    try:
        number = max(int(page or 1), 1)
    except ValueError:
        number = 1
    count = queryset.order_by()[: COUNT_CAP + 1].count()
    capped = count > COUNT_CAP
    count = min(count, COUNT_CAP)
    # The pages stop at the cap too: past it, narrowing the filters is the way on, and a deep
    # OFFSET over a million rows is never read.
    last = max((count - 1) // per_page + 1, 1)
    number = min(number, last)
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    has_next = len(rows) > per_page and number < last
    return CappedPage(rows[:per_page], number, per_page, count, capped, has_next)


@dataclass
class ListPage:
    """One page of a list, with the search, filters and sort it was read with."""

    page: CappedPage
    sort: str
    sorts: Mapping[str, Sort]
    filters: list[tuple[ChoiceFilter, str]] = field(default_factory=list)
    text_filters: list[tuple[TextFilter, str]] = field(default_factory=list)
    search: Search | None = None
    q: str = ""
    #: The whole filtered and sorted queryset, unpaged (for an export of what the list shows).
    queryset: QuerySet[Any] | None = None

    @property
    def items(self) -> list[Any]:
        return self.page.items

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @property
    def sort_options(self) -> list[tuple[str, str]]:
        options: list[tuple[str, str]] = []
        for key, sort in self.sorts.items():
            options.append((key, f"{sort.label}, ascending"))
            options.append((f"-{key}", f"{sort.label}, descending"))
        return options


def list_page(
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    sorts: Mapping[str, Sort],
    default_sort: str,
    filters: Sequence[ChoiceFilter] = (),
    text_filters: Sequence[TextFilter] = (),
    search: Search | None = None,
    per_page: int = PER_PAGE,
) -> ListPage:
    """Apply the request's search (``?q=``), filters (``?status=...``), sort (``?sort=key``
    or ``-key``) and page (``?page=N``) to ``queryset``. The sort always ends on the primary
    key, so that pages never overlap nor skip a row."""
    q = request.GET.get("q", "").strip()[:MAX_QUERY] if search is not None else ""
    if q and search is not None:
        queryset = search.apply(queryset, q)
    chosen: list[tuple[ChoiceFilter, str]] = []
    for f in filters:
        value = request.GET.get(f.param, "")
        if value and value in {v for v, _ in f.choices}:
            queryset = queryset.filter(**{f.lookup: value})
        else:
            value = ""
        chosen.append((f, value))
    typed: list[tuple[TextFilter, str]] = []
    for t in text_filters:
        value = t.clean(request.GET.get(t.param, "")[:MAX_QUERY])
        if value:
            queryset = queryset.filter(**{t.lookup: value})
        typed.append((t, value))
    sort = request.GET.get("sort", default_sort)
    key = sort.removeprefix("-")
    if key not in sorts:
        sort, key = default_sort, default_sort.removeprefix("-")
    descending = sort.startswith("-")
    ordering = [f"-{o}" if descending else o for o in sorts[key].ordering]
    queryset = queryset.order_by(*ordering, "-pk" if descending else "pk")
    page = capped_page(queryset, request.GET.get("page"), per_page=per_page)
    return ListPage(
        page=page,
        sort=sort,
        sorts=sorts,
        filters=chosen,
        text_filters=typed,
        search=search,
        q=q,
        queryset=queryset,
    )
