"""The three-year audit programme of a certificate.

A cycle starts on the initial decision, then on the day after each expiry that a renewal
replaced. Within it: the first surveillance ``first_surveillance_months`` after the start,
then each one ``surveillance_interval_months`` after the previous one was carried out (never
later than the programme's date), each with a tolerance window of
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


def cycle_start(
    certificate: Certificate,
    issues: Iterable[CertificateIssue],
    earlier: Sequence[Iterable[CertificateIssue]] = (),
) -> dt.date:
    """The first day of the certificate's current cycle: the initial decision, or the day
    after the expiry that the latest renewal replaced (that expiry is the ``valid_until`` of
    the issue before the renewal issue).

    A certificate taken over from another CB continues that certificate's cycle: ``earlier``
    holds the issues of the certificates it was transferred from, the first one first, and a
    renewal decided under an earlier CB starts the cycle as one decided here would."""
    ordered = [
        issue
        for chain in (*earlier, issues)
        for issue in sorted(chain, key=lambda i: i.issue_number)
    ]
    start = certificate.initial_decision_on
    for previous, issue in itertools.pairwise(ordered):
        if issue.reason == IssueReason.RENEWAL:
            start = previous.valid_until + dt.timedelta(days=1)
    return start


def transferred_from_chain(certificate: Certificate) -> list[Certificate]:
    """The certificates ``certificate`` was transferred from, the first one first (empty
    for a certificate granted here): one query per transfer."""
    chain: list[Certificate] = []
    previous_id = certificate.transferred_from_id
    while previous_id is not None and len(chain) < MAX_TRANSFERS:
        previous = type(certificate)._default_manager.filter(pk=previous_id).first()
        if previous is None:
            break
        chain.insert(0, previous)
        previous_id = previous.transferred_from_id
    return chain


#: More transfers of one certificate than any real one has had: a guard against a loop.
MAX_TRANSFERS = 50


def programme(
    *,
    start: dt.date,
    expires_on: dt.date,
    rules: SchemeRules,
    assessments: Iterable[Assessment] = (),
) -> list[PlannedVisit]:
    """The visits of one cycle, each matched to the assessment that did it (if any).

    Surveillance is "at least every 12 months": each visit falls due
    ``surveillance_interval_months`` after the previous one was actually carried out (the
    last day of that assessment), and never later than the programme's own date
    (``first_surveillance_months`` after the start, then one interval more per visit); a
    visit not carried out counts from its due date. Each has a tolerance window of
    ``surveillance_window_days`` either side. The re-assessment's window closes on the expiry
    date, its due date one tolerance before, so that a report issued on time leaves room for
    the renewal decision; no surveillance falls due inside its window.

    An assessment does a visit when its report was issued in this cycle, within or before the
    visit's window; assessments are taken in report order, each at most once, and one
    reported after a window is kept for the next visit.
    """
    window = dt.timedelta(days=rules.surveillance_window_days)
    re_due = expires_on - window
    queues = _reported(assessments, start)
    visits: list[PlannedVisit] = []
    interval = max(rules.surveillance_interval_months, 1)
    anchor: dt.date | None = None  # when the previous surveillance was carried out, or due
    sequence = 1
    while True:
        nominal = add_months(start, rules.first_surveillance_months + (sequence - 1) * interval)
        due = nominal if anchor is None else min(nominal, add_months(anchor, interval))
        if due >= re_due - window:
            break
        done, carried_out = _take(queues[SURVEILLANCE], due + window)
        visits.append(PlannedVisit(SURVEILLANCE, sequence, due, due - window, due + window, done))
        anchor = carried_out or due
        sequence += 1
    done, _ = _take(queues[REASSESSMENT], expires_on)
    visits.append(PlannedVisit(REASSESSMENT, 1, re_due, re_due - window, expires_on, done))
    return visits


def _reported(
    assessments: Iterable[Assessment], start: dt.date
) -> dict[str, list[tuple[dt.date, dt.date, int]]]:
    """Per kind, the assessments reported in the cycle: (report day, last day, id), in
    report order."""
    queues: dict[str, list[tuple[dt.date, dt.date, int]]] = {SURVEILLANCE: [], REASSESSMENT: []}
    for a in assessments:
        if (
            a.kind in queues
            and a.status in _REPORTED
            and a.report_issued_on is not None
            and a.report_issued_on >= start
        ):
            queues[a.kind].append((a.report_issued_on, a.end_date, a.pk))
    for queue in queues.values():
        queue.sort()
    return queues


def _take(
    queue: list[tuple[dt.date, dt.date, int]], window_end: dt.date
) -> tuple[int | None, dt.date | None]:
    """The next assessment of the queue if it was reported by ``window_end``: its id and the
    day it was carried out."""
    if queue and queue[0][0] <= window_end:
        _, carried_out, pk = queue.pop(0)
        return pk, carried_out
    return None, None


def surveillance_due_by(visits: Iterable[PlannedVisit], status_since: dt.date) -> dt.date | None:
    """The last day of the window of the earliest surveillance not carried out that can still
    suspend the certificate. A window that closed before ``status_since`` (the day the
    certificate last became current, by a restoration for instance) is settled by that
    decision."""
    ends = [
        v.window_end
        for v in visits
        if v.kind == SURVEILLANCE and not v.done and v.window_end >= status_since
    ]
    return min(ends, default=None)


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
    chain = transferred_from_chain(certificate) if certificate.transferred_from_id else []
    start = cycle_start(certificate, issues, [list(c.issues.all()) for c in chain])
    assessments = [a for c in chain for a in c.assessments.all()]
    return programme(
        start=start,
        expires_on=certificate.expires_on,
        rules=rules,
        assessments=[*assessments, *certificate.assessments.all()],
    )
