"""Reading the public register. Everything the public sees is read through here.

What the scheme makes public: the number, issues and their history, status and its history (date
and reason category, never the free-text reason), holder name and country, the sites the
holder publishes, scheme and programmes, scope wording and categories, standards with
editions and the CB are public. Drafts, and sites the holder does not publish, are not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.core.db.replicas import reading_connection

UNPUBLISHED_SITE = "an unpublished site"


def public_certificates() -> QuerySet[Certificate]:
    """Certificates the register shows: every status but draft.

    Written as "not a draft" rather than ``status IN PUBLIC_STATUSES``: the same rows (the
    status check constraint allows nothing else, and a test holds the two equal), but SQLite
    then reads an id-ordered chunk as a range of the primary key instead of reading every
    public certificate through the status index and sorting them, chunk after chunk (an
    export of 100,000 certificates took twice as long)."""
    return Certificate.objects.exclude(status=CertificateStatus.DRAFT)


def public_certificate(number: str) -> Certificate | None:
    """The certificate with this number, with its issues and status history in order, or
    ``None`` when there is none or it is still a draft (a draft is never public)."""
    return (
        public_certificates()
        .select_related("cb", "scheme", "organization")
        .prefetch_related(
            Prefetch("issues", queryset=CertificateIssue.objects.order_by("issue_number")),
            Prefetch(
                "status_changes",
                queryset=CertificateStatusChange.objects.order_by("effective_on", "id"),
            ),
        )
        .filter(number=number)
        .first()
    )


def public_issue(number: str, issue_number: int) -> CertificateIssue | None:
    """One issue of a public certificate, with its certificate's CB and scheme, or ``None``
    when there is no such certificate, it is a draft, or it has no such issue."""
    # A join on the certificate's number (unique, indexed), its status read from that row:
    # one certificate and one issue read, however large the register. (An ``IN`` over the
    # public certificates made SQLite walk every one of them.)
    found = (
        CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme")
        .filter(certificate__number=number, issue_number=issue_number)
        .exclude(certificate__status=CertificateStatus.DRAFT)
        .order_by()[:1]
    )
    return next(iter(found), None)


def issues_of(certificate: Certificate) -> list[CertificateIssue]:
    """The certificate's issues, first to last (from the prefetch)."""
    return sorted(certificate.issues.all(), key=lambda issue: issue.issue_number)


def status_changes_of(certificate: Certificate) -> list[CertificateStatusChange]:
    """The certificate's status changes in the order they took effect (from the prefetch)."""
    return sorted(certificate.status_changes.all(), key=lambda c: (c.effective_on, c.pk))


def latest_issue(certificate: Certificate) -> CertificateIssue | None:
    issues = issues_of(certificate)
    return issues[-1] if issues else None


def published_sites(issue: CertificateIssue) -> list[dict[str, Any]]:
    """The sites of an issue snapshot that the holder publishes; the others stay private."""
    return [site for site in issue.sites if site.get("published") is True]


#: What the public sees of a published site.
PUBLIC_SITE_FIELDS = ("id", "name", "address", "city", "country")


def public_sites(issue: CertificateIssue) -> list[dict[str, Any]]:
    """The published sites of an issue, each with its public fields only."""
    return [{f: site[f] for f in PUBLIC_SITE_FIELDS} for site in published_sites(issue)]


def published_site_ids(certificate: Certificate) -> set[int]:
    """Ids of the sites published in any issue: the only sites the public may ask about."""
    return {int(site["id"]) for issue in issues_of(certificate) for site in published_sites(issue)}


def public_scope_lines(issue: CertificateIssue) -> list[dict[str, Any]]:
    """Scope lines with their wording and category; the site only when it is published."""
    shown = {int(site["id"]) for site in published_sites(issue)}
    return [
        {
            "category": line["category"],
            "category_name": line["category_name"],
            "wording": line["wording"],
            "standards": list(line["standards"]),
            "site_id": line["site_id"] if line["site_id"] in shown else None,
        }
        for line in issue.scope_lines
    ]


def _unpublished_site_names(issues: Iterable[CertificateIssue]) -> list[str]:
    names: set[str] = set()
    published: set[str] = set()
    for issue in issues:
        for site in issue.sites:
            (published if site.get("published") is True else names).add(str(site["name"]))
    # Longest first, so that a name containing another is replaced whole.
    return sorted(names - published, key=len, reverse=True)


def public_change_summaries(certificate: Certificate) -> dict[int, str]:
    """Each issue's change summary, keyed by issue number, with the names of unpublished
    sites replaced: the services write ``<category> at <site name>`` into summaries of
    scope changes, and an unpublished site must not appear in the register."""
    issues = issues_of(certificate)
    hidden = [name for name in _unpublished_site_names(issues) if name]
    out: dict[int, str] = {}
    for issue in issues:
        summary = issue.change_summary
        for name in hidden:
            summary = summary.replace(name, UNPUBLISHED_SITE)
        out[issue.issue_number] = summary
    return out


def holder_of(issue: CertificateIssue) -> Mapping[str, Any]:
    """The public part of the holder snapshot: name and country."""
    return {"name": issue.holder["name"], "country": issue.holder["country"]}


@dataclass(frozen=True)
class TransferLinks:
    """The numbers of the public certificates one certificate was transferred from and to
    (a transfer to another CB gives a new number under it, linked both ways to the old)."""

    transferred_from: str | None = None
    transferred_to: str | None = None


NO_TRANSFER = TransferLinks()


def transfer_links(certificate_ids: Collection[int]) -> dict[int, TransferLinks]:
    """The transfer links of these certificates, keyed by id; a certificate neither
    transferred from nor to another is left out. One query, whatever the number of ids.
    Only public certificates are named: a draft is never public.

    Plain SQL: every page of search results asks it, and the ORM took longer to build the
    statement than the database to answer it (two probes of the transferred-from index)."""
    if not certificate_ids:
        return {}
    ids = set(certificate_ids)
    table = Certificate._meta.db_table
    marks = ", ".join(["%s"] * len(ids))
    draft = CertificateStatus.DRAFT.value
    with reading_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT c.id, c.number, c.transferred_from_id, f.number FROM {table} c"
            f" JOIN {table} f ON f.id = c.transferred_from_id"
            f" WHERE c.status <> %s AND f.status <> %s AND (c.transferred_from_id IN ({marks})"
            f" OR (c.id IN ({marks}) AND c.transferred_from_id IS NOT NULL))",
            [draft, draft, *ids, *ids],
        )
        rows = cursor.fetchall()
    found: dict[int, dict[str, str]] = {}
    for pk, number, from_pk, from_number in rows:
        if from_pk in ids:  # this row is the successor of one asked about
            found.setdefault(from_pk, {})["transferred_to"] = number
        if pk in ids:  # this row was asked about, and came from another certificate
            found.setdefault(pk, {})["transferred_from"] = from_number
    return {pk: TransferLinks(**links) for pk, links in found.items()}


__all__ = [
    "NO_TRANSFER",
    "UNPUBLISHED_SITE",
    "TransferLinks",
    "holder_of",
    "issues_of",
    "latest_issue",
    "public_certificate",
    "public_certificates",
    "public_change_summaries",
    "public_issue",
    "public_scope_lines",
    "published_site_ids",
    "published_sites",
    "status_changes_of",
    "transfer_links",
]
