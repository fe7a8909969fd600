"""The three-year audit programme of a certificate (DOMAIN.md section 4, Surveillance).

A cycle starts on the initial decision, then on the day after each expiry that a renewal
replaced. Within it: the first surveillance ``first_surveillance_months`` after the start,
then one every ``surveillance_interval_months``, each with a tolerance window of
``surveillance_window_days`` either side of its due date; and the re-assessment, placed so
that its whole window closes on the expiry date and a renewal can be decided in time. Every
figure comes from the scheme's :class:`~apcert.schemes.models.SchemeRules`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apcert.assessments.choices import AssessmentStatus
from apcert.certificates.choices import IssueReason
from apcert.core.dates import add_months
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.assessments.models import Assessment
    from apcert.certificates.models import Certificate, CertificateIssue
    from apcert.schemes.models import SchemeRules

SURVEILLANCE = "surveillance"
REASSESSMENT = "reassessment"
_REPORTED = (AssessmentStatus.REPORT_ISSUED, AssessmentStatus.CLOSED)


@dataclass(frozen=True)
class PlannedVisit:
    kind: str
    sequence: int
    due_date: dt.date
    window_start: dt.date
    window_end: dt.date
    done_by_assessment_id: int | None = None

    @property
    def done(self) -> bool:
        return self.done_by_assessment_id is not None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.sequence}" if self.kind == SURVEILLANCE else self.kind


def cycle_start(certificate: Certificate, issues: Iterable[CertificateIssue]) -> dt.date:
    """The first day of the certificate's current cycle: the initial decision, or the day
    after the expiry that the latest renewal replaced (that expiry is the ``valid_until`` of
    the issue before the renewal issue)."""
    ordered = sorted(issues, key=lambda i: i.issue_number)
    start = certificate.initial_decision_on
    for previous, issue in itertools.pairwise(ordered):
        if issue.reason == IssueReason.RENEWAL:
            start = previous.valid_until + dt.timedelta(days=1)
    return start


def plan_visits(*, start: dt.date, expires_on: dt.date, rules: SchemeRules) -> list[PlannedVisit]:
    """The visits of one cycle, not yet matched to assessments."""
    window = dt.timedelta(days=rules.surveillance_window_days)
    # The re-assessment's window closes on the expiry date; its due date sits one tolerance
    # before, so a report issued on time leaves room for the renewal decision.
    re_due = expires_on - window
    re_visit = PlannedVisit(REASSESSMENT, 1, re_due, re_due - window, expires_on)
    visits: list[PlannedVisit] = []
    sequence = 1
    interval = max(rules.surveillance_interval_months, 1)
    due = add_months(start, rules.first_surveillance_months)
    while due < re_visit.window_start:
        visits.append(PlannedVisit(SURVEILLANCE, sequence, due, due - window, due + window))
        due = add_months(start, rules.first_surveillance_months + sequence * interval)
        sequence += 1
    visits.append(re_visit)
    return visits


def match_assessments(
    visits: Sequence[PlannedVisit], assessments: Iterable[Assessment], *, start: dt.date
) -> list[PlannedVisit]:
    """Mark each visit done by the next assessment of its kind whose report was issued in
    this cycle, within or before the visit's window. Assessments are taken in report order,
    each at most once; one reported after a window is kept for the next visit."""
    queues: dict[str, list[tuple[dt.date, int]]] = {SURVEILLANCE: [], REASSESSMENT: []}
    for a in assessments:
        if (
            a.kind in queues
            and a.status in _REPORTED
            and a.report_issued_on is not None
            and a.report_issued_on >= start
        ):
            queues[a.kind].append((a.report_issued_on, a.pk))
    for queue in queues.values():
        queue.sort()
    matched: list[PlannedVisit] = []
    for visit in visits:
        queue = queues[visit.kind]
        done: int | None = None
        if queue and queue[0][0] <= visit.window_end:
            done = queue.pop(0)[1]
        matched.append(
            PlannedVisit(
                visit.kind,
                visit.sequence,
                visit.due_date,
                visit.window_start,
                visit.window_end,
                done,
            )
        )
    return matched


def rules_of(certificate: Certificate) -> SchemeRules:
    """The scheme's rules, from ``select_related("scheme__rules")`` when it was used."""
    from apcert.schemes.models import SchemeRules

    try:
        return certificate.scheme.rules
    except SchemeRules.DoesNotExist:
        return scheme_rules(certificate.scheme)  # raises scheme.rules_missing


def visits_for(certificate: Certificate) -> list[PlannedVisit]:
    """The programme of the certificate's current cycle, each visit matched to the assessment
    that did it (if any). Uses ``issues`` and ``assessments`` as prefetched when they are."""
    rules = rules_of(certificate)
    issues = list(certificate.issues.all())
    start = cycle_start(certificate, issues)
    visits = plan_visits(start=start, expires_on=certificate.expires_on, rules=rules)
    return match_assessments(visits, certificate.assessments.all(), start=start)
