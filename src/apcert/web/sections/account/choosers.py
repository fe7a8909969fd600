"""The choosers' endpoints: the matches of a search, as the HTML fragment that replaces a
chooser's radio buttons (``web/_chooser_matches.html``), and the choosers the forms show.

Each reads through a selector that holds only what the viewer may choose: the places the
user may invite to, the certification bodies an organization may apply to.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from apcert.accounts.models import User
from apcert.accounts.selectors import (
    MAX_QUERY_WORDS,
    invitation_target,
    invitation_target_matches,
    may_invite_anywhere,
)
from apcert.applications.selectors import cbs_accepting
from apcert.bodies.models import CertificationBody
from apcert.organizations.models import Organization
from apcert.web.chooser import LIMIT, Chooser, Option, OptionGroup, query_of
from apcert.web.errors import error_page
from apcert.web.section import current_user, section
from apcert.web.sections.account.refusals import NO_RIGHT_TO_INVITE

CBS = "Certification bodies"
ORGANIZATIONS = "Organizations"


def _cb_option(cb: CertificationBody, prefix: str = "") -> Option:
    return Option(f"{prefix}{cb.pk}", f"{cb.code} {cb.name}")


def _organization_option(organization: Organization) -> Option:
    return Option(f"org:{organization.pk}", f"{organization.legal_name} ({organization.country})")


# --- where a colleague may be invited -----------------------------------------------------------


def invitation_target_chooser(user: User, *, query: str = "", selected: str = "") -> Chooser:
    """The chooser of the invitation form's ``target``: the CBs and organizations ``user``
    may invite to that match ``query``; ``selected`` stays on offer if the user may invite
    there."""
    found = invitation_target_matches(user, query, limit=LIMIT)
    groups = []
    if found.cbs:
        groups.append(OptionGroup(CBS, [_cb_option(cb, "cb:") for cb in found.cbs]))
    if found.organizations:
        groups.append(
            OptionGroup(ORGANIZATIONS, [_organization_option(o) for o in found.organizations])
        )
    chooser = Chooser(
        name="target",
        url=reverse("web:chooser-invitation-targets"),
        query=query,
        groups=groups,
        found=found.found,
        total=found.total,
        selected=selected,
        noun="places you may invite to",
    )
    chosen = invitation_target(user, selected) if selected else None
    if isinstance(chosen, CertificationBody):
        chooser.keep(_cb_option(chosen, "cb:"), CBS)
    elif isinstance(chosen, Organization):
        chooser.keep(_organization_option(chosen), ORGANIZATIONS)
    chooser.choose_the_only_one()
    return chooser


@require_safe
@section("invite")
def invitation_targets(request: HttpRequest) -> HttpResponse:
    """The places the user may invite to that match ``?target_q=`` (at most 20)."""
    user = current_user(request)
    if not may_invite_anywhere(user):
        return error_page(request, NO_RIGHT_TO_INVITE, title="Invite a colleague")
    chooser = invitation_target_chooser(
        user, query=query_of(request.GET, "target"), selected=request.GET.get("target", "")
    )
    return render(request, "web/_chooser_matches.html", {"chooser": chooser, "oob": True})


# --- the certification body an organization applies to ----------------------------------------


def _matching(cbs: QuerySet[CertificationBody], query: str) -> QuerySet[CertificationBody]:
    for word in query.split()[:MAX_QUERY_WORDS]:
        cbs = cbs.filter(Q(code__icontains=word) | Q(name__icontains=word))
    return cbs


def cb_chooser(*, on: dt.date, query: str = "", selected: str = "") -> Chooser:
    """The chooser of the application form's ``cb``: the CBs an organization may apply to on
    ``on`` (as the public register lists them) that match ``query``."""
    offered = cbs_accepting(on=on)
    matches = _matching(offered, query)
    shown = list(matches[:LIMIT])
    chooser = Chooser(
        name="cb",
        url=reverse("web:chooser-cbs"),
        query=query,
        # One kind of choice: no heading over the matches.
        groups=[OptionGroup("", [_cb_option(cb) for cb in shown])] if shown else [],
        found=len(shown) if len(shown) < LIMIT else matches.count(),
        total=offered.count(),
        selected=selected,
        noun="certification bodies accepted for the scheme",
    )
    if selected.isdigit():
        chooser.keep(next((_cb_option(cb) for cb in offered.filter(pk=int(selected))), None), "")
    chooser.choose_the_only_one()
    return chooser


@require_safe
@section("org")
def cbs(request: HttpRequest) -> HttpResponse:
    """The certification bodies accepted for the scheme today that match ``?cb_q=``: who
    they are is public (the register lists them), so any signed-in user may ask."""
    chooser = cb_chooser(
        on=timezone.localdate(),
        query=query_of(request.GET, "cb"),
        selected=request.GET.get("cb", ""),
    )
    return render(request, "web/_chooser_matches.html", {"chooser": chooser, "oob": True})
