"""Lists in the back office: filter, sort and paginate a queryset from the query string.

A view passes a queryset that its selector has already limited to what the viewer may see;
this module only narrows and orders it. Unknown filter values and sort keys are ignored
(the list falls back to its default), so a hand-edited address never gives an error page.
Templates build their links with Django's ``{% querystring %}`` tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PER_PAGE = 25


@dataclass(frozen=True)
class ChoiceFilter:
    """A filter on one field with a closed set of values, e.g. a status."""

    param: str
    lookup: str
    choices: Sequence[tuple[str, str]]
    label: str = ""


@dataclass(frozen=True)
class Sort:
    """A sort key the list offers: its label and the ORM ordering it stands for."""

    label: str
    ordering: tuple[str, ...]


@dataclass
class ListPage:
    """One page of a list, with the filters and the sort it was read with."""

    page: Page[Any]
    sort: str
    sorts: Mapping[str, Sort]
    filters: list[tuple[ChoiceFilter, str]] = field(default_factory=list)

    @property
    def items(self) -> list[Any]:
        return list(self.page.object_list)

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
    per_page: int = PER_PAGE,
) -> ListPage:
    """Apply the request's filters (``?status=...``), sort (``?sort=key`` or ``-key``) and page
    (``?page=N``) to ``queryset``. The sort always ends on the primary key, so that pages
    never overlap nor skip a row."""
    chosen: list[tuple[ChoiceFilter, str]] = []
    for f in filters:
        value = request.GET.get(f.param, "")
        if value and value in {v for v, _ in f.choices}:
            queryset = queryset.filter(**{f.lookup: value})
        else:
            value = ""
        chosen.append((f, value))
    sort = request.GET.get("sort", default_sort)
    key = sort.removeprefix("-")
    if key not in sorts:
        sort, key = default_sort, default_sort.removeprefix("-")
    descending = sort.startswith("-")
    ordering = [f"-{o}" if descending else o for o in sorts[key].ordering]
    queryset = queryset.order_by(*ordering, "-pk" if descending else "pk")
    paginator = Paginator(queryset, per_page)
    page = paginator.get_page(request.GET.get("page"))
    return ListPage(page=page, sort=sort, sorts=sorts, filters=chosen)
