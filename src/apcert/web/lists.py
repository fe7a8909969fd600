"""Lists in the back office: search, filter, sort, page and export a queryset from the
query string.

A view passes a queryset that its selector has already limited to what the viewer may see;
this module only narrows and orders it. Unknown filter values and sort keys are ignored
(the list falls back to its default), and a typed date that is not one is ignored with a
word next to its box, so a hand-edited address never gives an error page. Every list of
every section goes through :func:`list_page` and is shown with the shared partials
``web/_list_controls.html`` and ``web/_pager.html``.

A list has a text search (``?q=``), filters on closed sets of values (:class:`ChoiceFilter`),
on short typed values (:class:`TextFilter`) and on date ranges (:class:`DateRange`), a sort,
and optionally tabs (:class:`Tab`, ``?show=``) that choose which of the viewer's records the
list starts from (e.g. the assessments they are on the team of): the view reads the tab with
:func:`chosen_tab` and asks the matching selector. ``?export=csv`` or ``?export=xlsx`` asks
for the whole filtered and sorted list as a file instead of a page (:mod:`apcert.web.exports`,
with the list's :class:`Column` s); the page's links carry the query string over.

Pages are read with LIMIT and OFFSET and the count stops at ``COUNT_CAP``: a list of a
million rows costs no more to count than one of ``COUNT_CAP`` (40 pages; past them the page
says "more than", and narrowing the filters is the way on). The count reads only the keys
of the rows (``SELECT 1`` under the cap's LIMIT), so that an index that serves the filters
answers it without reading the table. The page is read only when it is shown: an export
does not count, and holds up to ``EXPORT_CAP`` rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from apcert.web.fields import DateField

PER_PAGE = 25
#: Where a list stops counting (40 pages of 25): counting costs as much as reading that many
#: keys, on every page of the list.
COUNT_CAP = 1_000
#: The most rows an export holds: more than a page counts, as a file is for reading
#: elsewhere (the export's last row says when it stopped).
EXPORT_CAP = 10_000
MAX_QUERY = 100
#: The formats of ``?export=``.
EXPORT_FORMATS = ("csv", "xlsx")
#: The query parameter of a list's tabs.
TAB_PARAM = "show"


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


def country_code(text: str) -> str:
    """Two letters typed in a country filter, as stored (else "": the filter is ignored)."""
    text = text.strip().upper()
    return text if len(text) == 2 and text.isascii() and text.isalpha() else ""


@dataclass(frozen=True)
class DateRange:
    """A filter on one date between two typed days, both included: ``?<param>_from=`` and
    ``?<param>_to=``, either may be left empty. ``lookup`` names a date (for a moment,
    its ``__date``). The days are typed as every date field takes them
    (:class:`apcert.web.fields.DateField`), not picked from the browser's locale-dependent
    control."""

    param: str
    lookup: str
    label: str

    @property
    def start_param(self) -> str:
        return f"{self.param}_from"

    @property
    def end_param(self) -> str:
        return f"{self.param}_to"


@dataclass(frozen=True)
class ChosenRange:
    """A date range as the request typed it: the texts shown back in the boxes, and why a
    text was ignored (not a date), if it was."""

    range: DateRange
    start_text: str = ""
    end_text: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    error: str = ""


def _typed_day(text: str) -> tuple[dt.date | None, str]:
    """The day typed in ``text`` (None when empty), or why it is not one."""
    if not text.strip():
        return None, ""
    try:
        return DateField(required=False).clean(text), ""
    except ValidationError as exc:
        return None, f"“{text}” is not a date. {' '.join(exc.messages)}"


def _crosses_many(model: type[Model], lookup: str) -> bool:
    """Whether ``lookup`` follows a relation to many rows (a team's members, an
    organization's sites): matching through it would repeat a row once per match."""
    for part in lookup.split("__"):
        try:
            f = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a transform or lookup (icontains, date): the path ends here
        if f.one_to_many or f.many_to_many:
            return True
        if f.related_model is None:
            return False
        model = f.related_model  # type: ignore[assignment]
    return False


@dataclass(frozen=True)
class Search:
    """The list's text search (``?q=``): the fields it looks in, any of them matching.

    A field reached through a relation to many rows (e.g. the names of an assessment's team)
    is matched in a subquery, so that each row of the list still appears once. ``numbers``
    are matched when the text is a whole number (e.g. ``pk`` for "Application 12")."""

    label: str
    lookups: Sequence[str]
    numbers: Sequence[str] = ()

    def apply(self, queryset: QuerySet[Any], text: str) -> QuerySet[Any]:
        direct, through_many = Q(), Q()
        number = text.removeprefix("#")
        if number.isascii() and number.isdigit() and len(number) < 16:
            for lookup in self.numbers:
                direct |= Q(**{lookup: int(number)})
        for lookup in self.lookups:
            if _crosses_many(queryset.model, lookup):
                through_many |= Q(**{lookup: text})
            else:
                direct |= Q(**{lookup: text})
        condition = direct
        if through_many:
            matching = queryset.model._default_manager.filter(through_many).values("pk")
            condition |= Q(pk__in=matching)
        return queryset.filter(condition)


@dataclass(frozen=True)
class Tab:
    """One of a list's tabs (``?show=<value>``): which of the viewer's records it lists."""

    value: str
    label: str


def chosen_tab(request: HttpRequest, tabs: Sequence[Tab], default: str) -> str:
    """The tab the request asks for, if the list offers it; else ``default``."""
    value = request.GET.get(TAB_PARAM, "")
    return value if value in {t.value for t in tabs} else default


@dataclass(frozen=True)
class Column:
    """A column of a list's export: its heading and how a row's cell is read (a string,
    a number, a date or a moment, True/False, or None for an empty cell)."""

    header: str
    value: Callable[[Any], Any]


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


def capped_page(
    queryset: QuerySet[Any],
    page: str | None,
    *,
    per_page: int,
    counted: QuerySet[Any] | None = None,
) -> CappedPage:
    """Page ``page`` (1-based, clamped) of an ordered ``queryset``; its rows are counted
    from ``counted`` when given (as many rows as ``queryset``, read another way)."""
    try:
        number = max(int(page or 1), 1)
    except ValueError:
        number = 1
    count = (queryset if counted is None else counted).order_by()[: COUNT_CAP + 1].count()
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
    """A list as the request asks for it: the search, filters, tab and sort it was read
    with, its whole filtered and sorted queryset, and the page shown (read when first used).
    """

    sort: str
    sorts: Mapping[str, Sort]
    #: The whole filtered and sorted queryset, unpaged (an export of what the list shows).
    queryset: QuerySet[Any]
    filters: list[tuple[ChoiceFilter, str]] = field(default_factory=list)
    text_filters: list[tuple[TextFilter, str]] = field(default_factory=list)
    date_ranges: list[ChosenRange] = field(default_factory=list)
    search: Search | None = None
    q: str = ""
    tabs: Sequence[Tab] = ()
    tab: str = ""
    #: The export asked for (``csv`` or ``xlsx``), or "" for the page.
    export: str = ""
    #: Whether the page offers the download links (a list with export columns).
    exportable: bool = False
    page_number: str | None = None
    per_page: int = PER_PAGE
    #: How the list's rows are counted, from the filtered queryset (None: counted as read).
    count_from: Callable[[QuerySet[Any]], QuerySet[Any]] | None = None

    @cached_property
    def page(self) -> CappedPage:
        counted = None if self.count_from is None else self.count_from(self.queryset)
        return capped_page(self.queryset, self.page_number, per_page=self.per_page, counted=counted)

    @property
    def items(self) -> list[Any]:
        return self.page.items

    @property
    def tab_label(self) -> str:
        return next((t.label for t in self.tabs if t.value == self.tab), "")

    @property
    def cap(self) -> int:
        return COUNT_CAP

    @property
    def export_cap(self) -> int:
        return EXPORT_CAP

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
    date_ranges: Sequence[DateRange] = (),
    search: Search | None = None,
    tabs: Sequence[Tab] = (),
    tab: str = "",
    exportable: bool = False,
    per_page: int = PER_PAGE,
    count_from: Callable[[QuerySet[Any]], QuerySet[Any]] | None = None,
) -> ListPage:
    """Apply the request's search (``?q=``), filters (``?status=...``), date ranges
    (``?start_from=...&start_to=...``), sort (``?sort=key`` or ``-key``) and page
    (``?page=N``) to ``queryset``. The sort always ends on the primary key, so that pages
    never overlap nor skip a row. ``tabs`` and ``tab`` (the one the view read the
    queryset for) are shown above the controls and kept by them; ``exportable`` offers the
    download links (the view answers ``listing.export``). ``count_from`` gives, from the
    filtered queryset, one with as many rows that is cheaper to count."""
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
    ranges: list[ChosenRange] = []
    for r in date_ranges:
        start_text = request.GET.get(r.start_param, "")[:MAX_QUERY].strip()
        end_text = request.GET.get(r.end_param, "")[:MAX_QUERY].strip()
        start, start_error = _typed_day(start_text)
        end, end_error = _typed_day(end_text)
        if start is not None:
            queryset = queryset.filter(**{f"{r.lookup}__gte": start})
        if end is not None:
            queryset = queryset.filter(**{f"{r.lookup}__lte": end})
        error = start_error or end_error
        ranges.append(
            ChosenRange(
                r, start_text, end_text, start, end, f"{error} It is ignored." if error else ""
            )
        )
    sort = request.GET.get("sort", default_sort)
    key = sort.removeprefix("-")
    if key not in sorts:
        sort, key = default_sort, default_sort.removeprefix("-")
    descending = sort.startswith("-")
    # Descending turns each ordering round, a descending tie-break ("-created_at") included.
    ordering = [
        (o.removeprefix("-") if o.startswith("-") else f"-{o}") if descending else o
        for o in sorts[key].ordering
    ]
    queryset = queryset.order_by(*ordering, "-pk" if descending else "pk")
    export = request.GET.get("export", "")
    return ListPage(
        sort=sort,
        sorts=sorts,
        queryset=queryset,
        filters=chosen,
        text_filters=typed,
        date_ranges=ranges,
        search=search,
        q=q,
        tabs=tabs,
        tab=tab,
        export=export if exportable and export in EXPORT_FORMATS else "",
        exportable=exportable,
        page_number=request.GET.get("page"),
        per_page=per_page,
        count_from=count_from,
    )
