"""Choosers: a search box in place of a drop-down too long to read (every CB, every
organization), shown with the shared partial ``web/_chooser.html``.

The form's field is a group of radio buttons, one per match. Typing in the search box asks
the server (htmx ``hx-get`` to the chooser's endpoint, in
:mod:`apcert.web.sections.account.choosers`) for at most ``LIMIT`` matches, as an HTML
fragment that replaces the radio buttons. Without JavaScript the search box's "Find" button
sends the form back to its own page, which shows the matches and keeps every answer given so
far. The choice already made stays on offer whatever the search shows.

Only what the viewer may choose is ever read, by the selector the endpoint calls: the
chooser shows no name the viewer could not have chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

#: At most this many matches are shown.
LIMIT = 20
#: With more choices than this, the chooser has a search box; with fewer, it shows them all.
SEARCH_FROM = 10
MAX_QUERY = 100


@dataclass(frozen=True)
class Option:
    """One choice: the field's value and what the viewer reads."""

    value: str
    label: str


@dataclass(frozen=True)
class OptionGroup:
    """The choices of one kind (certification bodies, organizations), under a heading."""

    label: str
    options: list[Option]


@dataclass
class Chooser:
    """What ``web/_chooser.html`` shows for the form field ``name``: the search and its
    matches, in groups, and the value chosen so far."""

    name: str
    url: str
    query: str = ""
    groups: list[OptionGroup] = field(default_factory=list)
    found: int = 0
    total: int = 0
    selected: str = ""
    #: The thing chosen, in the plural, for the count ("certification bodies").
    noun: str = "matches"

    @property
    def html_id(self) -> str:
        """The id of the field's fieldset, as Django's ``auto_id`` has it (forms with a
        chooser take no prefix)."""
        return f"id_{self.name}"

    @property
    def query_name(self) -> str:
        return f"{self.name}_q"

    @property
    def find_name(self) -> str:
        return f"{self.name}_find"

    @property
    def searchable(self) -> bool:
        return self.total > SEARCH_FROM

    @property
    def shown(self) -> int:
        return sum(len(g.options) for g in self.groups)

    @property
    def more(self) -> bool:
        """More match than are shown: the search should be narrowed."""
        return self.found > self.shown

    def choose_the_only_one(self) -> None:
        """With one choice only, it is chosen already."""
        if not self.selected and self.total == 1 and self.shown == 1:
            self.selected = self.groups[0].options[0].value

    def keep(self, option: Option | None, group_label: str) -> None:
        """Offer ``option`` (the choice made so far) even when the search does not match it,
        first in its group."""
        if option is None or any(o.value == option.value for g in self.groups for o in g.options):
            return
        for i, group in enumerate(self.groups):
            if group.label == group_label:
                self.groups[i] = OptionGroup(group.label, [option, *group.options])
                return
        self.groups.insert(0, OptionGroup(group_label, [option]))


def query_of(data: QueryDict, name: str) -> str:
    """The search typed for field ``name``, trimmed to ``MAX_QUERY`` characters."""
    return str(data.get(f"{name}_q", "")).strip()[:MAX_QUERY]


def wants_matches(request: HttpRequest, name: str) -> bool:
    """True when a form was sent by the search box's "Find" button (no JavaScript): the page
    shows the matches again, and saves nothing."""
    return request.method == "POST" and f"{name}_find" in request.POST


def answers_kept(form: forms.Form) -> dict[str, Any]:
    """The answers a sent form holds, as the initial values of a new unbound one: the page
    that shows a search's matches keeps what was typed, without marking anything wrong."""
    return {
        name: bound.field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
        for name, bound in ((n, form[n]) for n in form.fields)
    }
