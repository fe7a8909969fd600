"""The public directory: organizations that hold certificates, and certification bodies.

Read-only selectors for the register pages and the public API. Like
:mod:`apcert.register.selectors` they return public fields only: an
organization is known by the holder snapshot of its certificates' issues (name and country,
never its registration number or address), and only through certificates that are public
(every status but draft). A CB is public once the Secretariat has accepted it for a
programme; its acceptances (scheme, programme, dates, status) are public, its staff are not.

Each selector runs a fixed number of queries whatever the size of the register.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from apcert.bodies.models import CBAcceptance, CertificationBody
from apcert.certificates.choices import PUBLIC_STATUSES, CertificateStatus
from apcert.certificates.models import CertificateIssue
from apcert.certificates.selectors import certificate_statuses_on
from apcert.certificates.timeline import StatusOnDay
from apcert.register.status_today import status_recorded
from apcert.schemes.models import ProcessCategory

#: Ids are 64-bit integers: a larger number in a URL names nothing (and would overflow the
#: database's integer).
ID_MAX = 2**63 - 1
BODY_CERTIFICATES_PER_PAGE = 50
BODY_CERTIFICATES_PER_PAGE_MAX = 100
BODY_CERTIFICATES_PAGE_MAX = 1_000_000


@dataclass(frozen=True)
class Named:
    """A coded reference item shown with its name: a scheme or a programme."""

    code: str
    name: str


@dataclass(frozen=True)
class CertificateSummary:
    """One public certificate in a directory list, as of its latest issue."""

    number: str
    status: str
    status_since: dt.date
    expires_on: dt.date
    issue_number: int
    holder_name: str
    holder_country: str
    organization_id: int
    scheme: Named
    programmes: tuple[Named, ...]
    cb_code: str
    cb_name: str
    cb_country: str
    #: False when the status is what the calendar made it and the register's daily check
    #: has not recorded it yet.
    status_recorded: bool = True


@dataclass(frozen=True)
class OrganizationProfile:
    """A certificate holder as the register shows it."""

    id: int
    name: str
    country: str
    certificates: tuple[CertificateSummary, ...]


@dataclass(frozen=True)
class AcceptanceSummary:
    """A CB's acceptance for one programme. ``categories`` is empty when the acceptance
    covers the whole programme; ``in_force`` says whether it is active on the day asked."""

    scheme: Named
    programme: Named
    status: str
    accepted_on: dt.date
    valid_until: dt.date | None
    in_force: bool
    categories: tuple[str, ...]


@dataclass(frozen=True)
class BodySummary:
    """A certification body in the directory, with how many certificates it has current."""

    code: str
    name: str
    country: str
    website: str
    acceptances: tuple[AcceptanceSummary, ...]
    current_certificates: int


@dataclass(frozen=True)
class CertificatePage:
    """One page of a longer list of certificates."""

    items: tuple[CertificateSummary, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


# --- certificates, as of their latest issue --------------------------------------------------


def _latest_issues() -> QuerySet[CertificateIssue]:
    """The latest issue of every public certificate, with its certificate, CB and scheme
    (one row per certificate). The scope and site snapshots are not needed here: deferred."""
    return (
        CertificateIssue.objects.filter(
            certificate__status__in=PUBLIC_STATUSES,
            issue_number=F("certificate__current_issue_number"),
        )
        .select_related("certificate__cb", "certificate__scheme")
        .defer("sites", "scope_lines", "standards", "change_summary")
    )


def _current_today(path: str) -> Q:
    """Certificates (at ``path``) current today: current as recorded, and not among those
    whose recorded status stops holding by today (``lapses_on``): the calendar has
    suspended or expired those, whether or not the daily sweep has recorded it."""
    today = timezone.localdate()
    return Q(**{f"{path}status": CertificateStatus.CURRENT}) & (
        Q(**{f"{path}lapses_on__isnull": True}) | Q(**{f"{path}lapses_on__gt": today})
    )


def _summary(issue: CertificateIssue, today: StatusOnDay | None = None) -> CertificateSummary:
    certificate = issue.certificate
    cb = certificate.cb
    holder: dict[str, Any] = issue.holder
    moved = today is not None and not status_recorded(today)
    return CertificateSummary(
        number=certificate.number,
        status=today.status if today is not None and moved else certificate.status,
        status_since=today.since if today is not None and moved else certificate.status_since,
        status_recorded=not moved,
        expires_on=certificate.expires_on,
        issue_number=issue.issue_number,
        holder_name=str(holder["name"]),
        holder_country=str(holder["country"]),
        organization_id=certificate.organization_id,
        scheme=Named(certificate.scheme.code, certificate.scheme.name),
        programmes=tuple(Named(str(p["code"]), str(p["name"])) for p in issue.programmes),
        cb_code=cb.code,
        cb_name=cb.name,
        cb_country=cb.country,
    )


# --- organizations ----------------------------------------------------------------------------


def public_organization(organization_id: int) -> OrganizationProfile | None:
    """The holder with its public certificates (one query), or ``None`` when it holds no
    public certificate: an organization that has only applied, or whose only certificate is
    a draft, is not in the register.

    Name and country come from the most recent issue among its certificates, so a holder
    renamed on a re-issue shows its new name, and nothing that was never published shows.
    """
    if not 1 <= organization_id <= ID_MAX:
        return None
    issues = list(
        _latest_issues()
        .filter(certificate__organization_id=organization_id)
        .order_by("certificate__number")
    )
    if not issues:
        return None
    newest = max(issues, key=lambda issue: (issue.issued_on, issue.pk))
    # No query unless one of them is stale.
    today = certificate_statuses_on(issue.certificate for issue in issues)
    return OrganizationProfile(
        id=organization_id,
        name=str(newest.holder["name"]),
        country=str(newest.holder["country"]),
        certificates=tuple(_summary(i, today[i.certificate_id]) for i in issues),
    )


# --- certification bodies ---------------------------------------------------------------------


def _public_bodies() -> QuerySet[CertificationBody]:
    """CBs the Secretariat has accepted for at least one programme, with their acceptances
    (and any limit to part of the process tree) and their count of current certificates."""
    acceptances = (
        CBAcceptance.objects.select_related("scheme", "programme")
        .prefetch_related(
            Prefetch("categories", queryset=ProcessCategory.objects.order_by("code").only("code"))
        )
        .order_by("scheme__code", "programme__code")
    )
    return (
        CertificationBody.objects.filter(Exists(CBAcceptance.objects.filter(cb=OuterRef("pk"))))
        .annotate(current_count=Count("certificates", filter=_current_today("certificates__")))
        .prefetch_related(Prefetch("acceptances", queryset=acceptances))
        .order_by("code")
    )


def _body_summary(cb: CertificationBody, on: dt.date) -> BodySummary:
    return BodySummary(
        code=cb.code,
        name=cb.name,
        country=cb.country,
        website=cb.website,
        acceptances=tuple(
            AcceptanceSummary(
                scheme=Named(a.scheme.code, a.scheme.name),
                programme=Named(a.programme.code, a.programme.name),
                status=a.status,
                accepted_on=a.accepted_on,
                valid_until=a.valid_until,
                in_force=a.is_current_on(on),
                categories=tuple(c.code for c in a.categories.all()),
            )
            for a in cb.acceptances.all()
        ),
        current_certificates=int(cb.current_count),  # type: ignore[attr-defined]
    )


def public_bodies(*, on: dt.date | None = None) -> list[BodySummary]:
    """Every accepted CB, by code, in three queries. ``on`` is the day ``in_force`` is
    judged on (today by default)."""
    day = on or dt.date.today()
    return [_body_summary(cb, day) for cb in _public_bodies()]


def public_body(code: str, *, on: dt.date | None = None) -> BodySummary | None:
    """The accepted CB with this code (any case), or ``None``."""
    day = on or dt.date.today()
    cb = _public_bodies().filter(code__iexact=code.strip()).first()
    return _body_summary(cb, day) if cb is not None else None


def body_current_certificates(
    code: str, *, page: int = 1, per_page: int = BODY_CERTIFICATES_PER_PAGE
) -> CertificatePage:
    """One page of the CB's current certificates, by number (two queries: count and page).
    A page past the last one is empty."""
    per_page = max(1, min(per_page, BODY_CERTIFICATES_PER_PAGE_MAX))
    page = max(1, page)
    issues = _latest_issues().filter(
        _current_today("certificate__"), certificate__cb__code__iexact=code.strip()
    )
    total = issues.count()
    start = (page - 1) * per_page
    # A page past the last asks nothing more (and its offset could overflow the database).
    rows = (
        list(issues.order_by("certificate__number")[start : start + per_page])
        if start < total
        else []
    )
    return CertificatePage(
        items=tuple(_summary(issue) for issue in rows),
        total=total,
        page=page,
        per_page=per_page,
    )


__all__ = [
    "BODY_CERTIFICATES_PAGE_MAX",
    "BODY_CERTIFICATES_PER_PAGE",
    "BODY_CERTIFICATES_PER_PAGE_MAX",
    "ID_MAX",
    "AcceptanceSummary",
    "BodySummary",
    "CertificatePage",
    "CertificateSummary",
    "Named",
    "OrganizationProfile",
    "body_current_certificates",
    "public_bodies",
    "public_body",
    "public_organization",
]
