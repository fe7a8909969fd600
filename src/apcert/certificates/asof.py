"""As-of queries: what a certificate was on a given day.

"Was certificate X current on date D, and did it cover process category P at site S on that
date?" is answered from the public record only: the status history
(:class:`CertificateStatusChange`) and the immutable issue snapshots
(:class:`CertificateIssue`). Both are append-only, so the answer for a past date never
changes once that date has been recorded.

Rules:

- The status on D is the ``to_status`` of the last status change with ``effective_on <= D``
  (several on one day: the one recorded last wins). Before the first change the answer is
  "not yet issued"; a draft is never public and reads the same.
- The issue in force on D is the latest issue with ``issued_on <= D`` (several on one day:
  the highest issue number).
- From the day of the last recorded change on, the status is the one
  :func:`apcert.certificates.timeline.status_on` gives for D, the function the sweep
  records with: an expiry, a missed surveillance window or the end of the maximum
  suspension holds from its date whether or not the sweep has recorded it (``recorded``
  is then false for a change that fell due by today).
- Current means the status was ``current`` *and* D is not after the ``valid_until`` of the
  issue in force.
- A scope line covers category C when its category code is C or an ancestor of C (a line
  for ``PWB`` covers ``PWB.PLT``; a line for ``PWB.PLT`` does not cover all of ``PWB``).
  With a site, the line must also be at that site. ``covered`` is about the scope of the
  issue in force only, whatever the status; combine it with ``current`` for "was it
  certified for this on that day".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.certificates.selectors import certificate_status_on

NOT_YET_ISSUED = "not yet issued"


@dataclass(frozen=True)
class AsOfAnswer:
    """What the public record says about one certificate on one day."""

    number: str
    on: dt.date
    status: str
    current: bool
    issue_number: int | None
    covered: bool | None
    valid_until: dt.date | None
    reason: str | None
    #: False when the status is a change the calendar made, by today, that the register's
    #: daily check has not recorded yet.
    recorded: bool = True


def category_covers(line_category: str, category: str) -> bool:
    """A line's category covers ``category`` when it is the same node or an ancestor."""
    return category == line_category or category.startswith(line_category + ".")


def scope_covers(
    scope_lines: Iterable[Mapping[str, Any]],
    *,
    category: str | None = None,
    site_id: int | None = None,
) -> bool:
    """Whether any of the snapshot ``scope_lines`` matches the category and/or site."""
    for line in scope_lines:
        if category is not None and not category_covers(str(line["category"]), category):
            continue
        if site_id is not None and line["site_id"] != site_id:
            continue
        return True
    return False


def certificate_as_of(
    *,
    certificate: Certificate,
    on: dt.date,
    category: str | None = None,
    site_id: int | None = None,
) -> AsOfAnswer:
    """The certificate's public state on ``on``, exactly, from its history.

    ``covered`` is ``None`` when neither ``category`` nor ``site_id`` is asked about, and
    ``False`` on a day when no issue was yet in force.
    """
    change = (
        CertificateStatusChange.objects.filter(certificate=certificate, effective_on__lte=on)
        .order_by("-effective_on", "-id")
        .values("to_status", "reason_category")
        .first()
    )
    issue = (
        CertificateIssue.objects.filter(certificate=certificate, issued_on__lte=on)
        .order_by("-issued_on", "-issue_number")
        .values("issue_number", "valid_until", "scope_lines")
        .first()
    )
    status = NOT_YET_ISSUED
    reason: str | None = None
    recorded = True
    if change is not None and change["to_status"] in PUBLIC_STATUSES:
        status = change["to_status"]
        reason = change["reason_category"]
        if on >= certificate.status_since and status == certificate.status:
            # On or after the last recorded change: what the calendar has done since.
            then = certificate_status_on(certificate, on)
            made = [c for c in then.unrecorded if c.to_status is not None]
            if made:
                status, reason = then.status, then.reason_category
                recorded = not any(c.effective_on <= timezone.localdate() for c in made)
    valid_until: dt.date | None = issue["valid_until"] if issue is not None else None
    current = status == "current" and valid_until is not None and on <= valid_until
    covered: bool | None = None
    if category is not None or site_id is not None:
        covered = issue is not None and scope_covers(
            issue["scope_lines"], category=category, site_id=site_id
        )
    return AsOfAnswer(
        number=certificate.number,
        on=on,
        status=status,
        current=current,
        issue_number=issue["issue_number"] if issue is not None else None,
        covered=covered,
        valid_until=valid_until,
        reason=reason,
        recorded=recorded,
    )


__all__ = [
    "NOT_YET_ISSUED",
    "AsOfAnswer",
    "category_covers",
    "certificate_as_of",
    "scope_covers",
]
