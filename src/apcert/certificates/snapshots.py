"""The immutable content of a certificate issue, built from the live records."""

from __future__ import annotations

from typing import Any

from apcert.applications.models import Application, ScopeLine
from apcert.organizations.models import Organization, Site


def holder_snapshot(org: Organization) -> dict[str, Any]:
    return {
        "name": org.legal_name,
        "country": org.country,
        "registration_number": org.registration_number,
        "registration_authority": org.registration_authority,
    }


def site_snapshot(site: Site) -> dict[str, Any]:
    return {
        "id": site.pk,
        "name": site.name,
        "address": site.address,
        "city": site.city,
        "country": site.country,
        "published": site.published,
    }


def scope_line_snapshot(line: ScopeLine) -> dict[str, Any]:
    return {
        "category": line.category.code,
        "category_name": line.category.name,
        "site_id": line.site_id,
        "site_name": line.site.name,
        "wording": line.wording,
        "standards": sorted(s.reference for s in line.standards.all()),
    }


def application_scope(application: Application) -> list[dict[str, Any]]:
    lines = (
        application.scope_lines.select_related("category", "site")
        .prefetch_related("standards")
        .order_by("id")
    )
    return [scope_line_snapshot(line) for line in lines]


def standards_of(scope_lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The standards the scope lines declare, each once, with their titles (one query)."""
    from django.db.models import Q

    from apcert.schemes.models import Standard

    refs = sorted({ref for line in scope_lines for ref in line["standards"]})
    pairs = [ref.rpartition(":")[::2] for ref in refs]
    query = Q(pk__in=[])
    for designation, edition in pairs:
        query |= Q(designation=designation, edition=edition)
    titles = {
        (d, e): t
        for d, e, t in Standard.objects.filter(query).values_list("designation", "edition", "title")
    }
    return [{"designation": d, "edition": e, "title": titles.get((d, e), "")} for d, e in pairs]


def sites_of(scope_lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = sorted({line["site_id"] for line in scope_lines})
    return [site_snapshot(site) for site in Site.objects.filter(pk__in=ids).order_by("pk")]
