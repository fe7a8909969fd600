"""The immutable content of a certificate issue, built from the live records, and what
changed from one issue to the next, read from two such snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from apcert.applications.models import Application, ScopeLine
from apcert.organizations.models import Organization, Site

if TYPE_CHECKING:
    from apcert.certificates.models import CertificateIssue


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


# --- what changed between two issues --------------------------------------------------------

#: The fields of an issue that make up its content: what the certificate says.
ISSUE_CONTENT = (
    "holder",
    "sites",
    "programmes",
    "scope_lines",
    "standards",
    "valid_from",
    "valid_until",
)

FIRST_ISSUE = "First issue"

#: How the public change summary names a site the holder does not publish.
UNPUBLISHED_SITE = "an unpublished site"

IssueContent = Mapping[str, Any]


def issue_content(issue: CertificateIssue) -> dict[str, Any]:
    """The content of a stored issue, in the shape :func:`issue_changes` compares."""
    return {name: getattr(issue, name) for name in ISSUE_CONTENT}


def _site_label(site: Mapping[str, Any] | None) -> str:
    if site is None or site.get("published") is not True:
        return UNPUBLISHED_SITE
    return str(site["name"])


def place(site: Mapping[str, Any]) -> str:
    """Where a site snapshot is, as the public reads it: address, city (country)."""
    address, city = site.get("address") or "", site.get("city") or ""
    # An address often names its city already.
    parts = [address] if city and city in address else [address, city]
    where = ", ".join(part for part in parts if part)
    return f"{where} ({site['country']})" if where else str(site["country"])


def _holder_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    out = []
    if before.get("name") != after.get("name"):
        out.append(f"Holder renamed: '{before.get('name')}' to '{after.get('name')}'")
    if before.get("country") != after.get("country"):
        out.append(f"Holder's country changed: {before.get('country')} to {after.get('country')}")
    # The registration number is not public: say that it changed, not what it is.
    registration = ("registration_number", "registration_authority")
    if any(before.get(key) != after.get(key) for key in registration):
        out.append("Holder's registration details updated")
    return out


def _site_changes(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> list[str]:
    old = {site["id"]: site for site in before}
    new = {site["id"]: site for site in after}
    out = []
    for site_id, site in new.items():
        was = old.get(site_id)
        if was is None:
            shown = site.get("published") is True
            out.append(
                f"Site added: {site['name']}, {place(site)}"
                if shown
                else f"Site added: {UNPUBLISHED_SITE}"
            )
            continue
        # Whether the holder publishes a site is the register's to show, not a change of
        # what is certified: it makes no announcement of its own.
        if was["name"] != site["name"]:
            if site.get("published") is not True:
                out.append(f"Site renamed: {UNPUBLISHED_SITE}")
            elif was.get("published") is not True:
                out.append(f"Site renamed: now '{site['name']}'")
            else:
                out.append(f"Site renamed: '{was['name']}' to '{site['name']}'")
        if any(was.get(key) != site.get(key) for key in ("address", "city", "country")):
            out.append(
                f"Site moved: {site['name']} to {place(site)}"
                if site.get("published") is True
                else f"Site moved: {UNPUBLISHED_SITE}"
            )
    out += [f"Site removed: {_site_label(site)}" for i, site in old.items() if i not in new]
    return out


def _scope_changes(before: IssueContent, after: IssueContent) -> list[str]:
    """Lines added and removed, wording changed, and declared standards changed. A new
    edition of a standard in place of the old one is announced once, whatever the number of
    lines that declare it; the standards list itself follows from the lines."""
    sites = {site["id"]: site for site in before["sites"]}
    sites.update({site["id"]: site for site in after["sites"]})

    def key(line: Mapping[str, Any]) -> tuple[str, int]:
        return (line["category"], line["site_id"])

    def where(line: Mapping[str, Any]) -> str:
        return f"{line['category']} at {_site_label(sites.get(line['site_id']))}"

    old = {key(line): line for line in before["scope_lines"]}
    new = {key(line): line for line in after["scope_lines"]}
    out = [
        f"Scope line added: {where(line)} ({line['category_name']})"
        for k, line in new.items()
        if k not in old
    ]
    out += [
        f"Scope line removed: {where(line)} ({line['category_name']})"
        for k, line in old.items()
        if k not in new
    ]
    updated: dict[tuple[str, str, str], None] = {}  # ordered set of (designation, old, new)
    for k, line in new.items():
        was = old.get(k)
        if was is None:
            continue
        if was["wording"] != line["wording"]:
            out.append(
                f"Scope wording changed for {where(line)}: '{was['wording']}' to "
                f"'{line['wording']}'"
            )
        gone = sorted(set(was["standards"]) - set(line["standards"]))
        came = sorted(set(line["standards"]) - set(was["standards"]))
        editions_gone = _editions(gone)
        editions_came = _editions(came)
        for designation, (old_edition, old_ref) in editions_gone.items():
            if designation in editions_came:
                new_edition, new_ref = editions_came[designation]
                updated[(designation, old_edition, new_edition)] = None
                gone.remove(old_ref)
                came.remove(new_ref)
        out += [f"Standard added to {where(line)}: {ref}" for ref in came]
        out += [f"Standard removed from {where(line)}: {ref}" for ref in gone]
    out += [f"Standard updated: {d}:{old_ed} to :{new_ed}" for d, old_ed, new_ed in updated]
    return out


def _editions(refs: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Designation: (edition, reference), for designations that appear with one edition."""
    seen: dict[str, list[str]] = {}
    for ref in refs:
        designation, _, edition = ref.rpartition(":")
        seen.setdefault(designation, []).append(edition)
    return {d: (e[0], f"{d}:{e[0]}") for d, e in seen.items() if len(e) == 1}


def _programme_changes(
    before: Iterable[Mapping[str, Any]], after: Iterable[Mapping[str, Any]]
) -> list[str]:
    old = {p["code"]: p for p in before}
    new = {p["code"]: p for p in after}
    out = [f"Programme added: {c} ({p['name']})" for c, p in new.items() if c not in old]
    out += [f"Programme removed: {c} ({p['name']})" for c, p in old.items() if c not in new]
    return out


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _validity_changes(before: IssueContent, after: IssueContent) -> list[str]:
    out = []
    start, new_start = _date(before["valid_from"]), _date(after["valid_from"])
    if start != new_start:
        out.append(f"Valid from {new_start.isoformat()}")
    end, new_end = _date(before["valid_until"]), _date(after["valid_until"])
    if new_end > end:
        out.append(f"Validity extended to {new_end.isoformat()}")
    elif new_end < end:
        out.append(f"Validity shortened to {new_end.isoformat()}")
    return out


def issue_changes(previous: IssueContent | None, new: IssueContent) -> list[str]:
    """What an issue changes from the one before it, in plain words, each change once:
    holder, sites, scope lines and their standards, programmes, validity. A re-issue
    announces only what it changed, so its public summary is this and nothing else.

    Both arguments hold the :data:`ISSUE_CONTENT` fields (:func:`issue_content` reads them
    from a stored issue); ``previous`` is None for issue 1. A site the holder does not
    publish is never named."""
    if previous is None:
        return [FIRST_ISSUE]
    return [
        *_holder_changes(previous["holder"], new["holder"]),
        *_site_changes(previous["sites"], new["sites"]),
        *_scope_changes(previous, new),
        *_programme_changes(previous["programmes"], new["programmes"]),
        *_validity_changes(previous, new),
    ]


def change_summary(previous: IssueContent | None, new: IssueContent) -> str:
    """The public "what changed" of an issue: :func:`issue_changes` in one line."""
    return "; ".join(issue_changes(previous, new))
