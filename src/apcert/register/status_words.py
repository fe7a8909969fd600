"""A certificate's status today in words: the one wording of the verification page (by
number and by signed credential), the mark across a certificate PDF that is not current,
and the back office.

The status itself comes from :func:`apcert.certificates.selectors.certificate_status_on`:
what the calendar alone has done (an expiry, a missed surveillance window, the end of the
maximum suspension) holds from its date, whether or not the daily sweep has recorded it.
Public words only: the date and the reason category, never a free-text reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.timeline import StatusOnDay
from apcert.register.templatetags.register_tags import plain_day, reason_label, status_word

#: What the back office adds where the status today is not yet the recorded one.
NOT_YET_RECORDED = "the daily check has not yet recorded it"


@dataclass(frozen=True)
class StatusWords:
    """One certificate's status on a day, said in words."""

    #: The status on the day: ``current``, ``suspended``, ``withdrawn``, ``cancelled``,
    #: ``expired`` (or ``draft``).
    state: str
    since: dt.date
    #: The reason category's public label ("" when there is none to give).
    reason: str
    #: "Valid and current", "Valid but suspended since 3 May 2026 (complaint)", "Withdrawn on
    #: 24 June 2022 (misuse of the certificate or mark)", "Expired on 4 October 2026".
    headline: str
    #: The status as a word with its date: "Current", "Suspended since 3 May 2026",
    #: "Expired on 4 October 2026".
    short: str
    #: What the calendar changed that the sweep has not recorded yet, in plain words ("" when
    #: the stored status is the truth): "Expired on 4 October 2026: the daily check has not
    #: yet recorded it".
    unrecorded: str
    #: The back office's words: ``short``, or where the sweep is behind, ``unrecorded`` (after
    #: ``short`` when only a decision has fallen due and the status itself stands).
    display: str

    @property
    def ok(self) -> bool:
        return self.state == CertificateStatus.CURRENT

    @property
    def mark(self) -> str:
        """The words across a certificate document that is not current ("" when it is):
        ``WITHDRAWN on 24 June 2022: not valid``."""
        if self.ok:
            return ""
        return f"{self.state.upper()} {_on(self.state)} {plain_day(self.since)}: not valid"


def _on(state: str) -> str:
    # A suspension lasts and may end; the other statuses happened on a day.
    return "since" if state == CertificateStatus.SUSPENDED else "on"


def status_words(status: StatusOnDay, *, recorded_reason: str | None = None) -> StatusWords:
    """The words of ``status`` (from ``certificate_status_on``). ``recorded_reason`` is the
    reason category of the last recorded status change, used while no unrecorded change
    gives the reason itself."""
    state, since = status.status, status.since
    reason_code = status.reason_category if status.unrecorded else recorded_reason
    reason = reason_label(reason_code)
    because = f" ({reason})" if reason else ""
    when = plain_day(since)
    if state == CertificateStatus.DRAFT:
        headline = short = "Draft (not public)"
    elif state == CertificateStatus.CURRENT:
        headline, short = "Valid and current", "Current"
    elif state == CertificateStatus.SUSPENDED:
        short = f"Suspended since {when}"
        headline = f"Valid but suspended since {when}{because}"
    elif state == CertificateStatus.EXPIRED:
        # The reason of an expiry is always that its validity ended: said by the word.
        headline = short = f"Expired on {when}"
    else:
        short = f"{status_word(state)} {_on(state)} {when}"
        headline = short + because
    unrecorded = unrecorded_words(status)
    if not unrecorded:
        display = short
    elif any(change.to_status is not None for change in status.unrecorded):
        display = unrecorded
    else:
        display = f"{short}. {unrecorded}"
    return StatusWords(state, since, reason, headline, short, unrecorded, display)


def unrecorded_words(status: StatusOnDay) -> str:
    """What the calendar did that nobody has recorded yet, or ""."""
    parts = [
        f"{status_word(change.to_status)} {_on(change.to_status)} {plain_day(change.effective_on)}"
        for change in status.unrecorded
        if change.to_status is not None
    ]
    due = status.decision_due
    text = ""
    if parts:
        text = ", then ".join([parts[0]] + [p[0].lower() + p[1:] for p in parts[1:]])
        text += f": {NOT_YET_RECORDED}"
    if due is not None:
        decision = (
            f"the maximum suspension ran out on {plain_day(due.effective_on)}: a decision "
            "(a scope reduction or a withdrawal) is due"
        )
        text = f"{text}; {decision}" if text else decision[0].upper() + decision[1:]
    return text
