"""As-of queries: exact answers for a known life, and a property test
that replays random histories through the services and compares ``certificate_as_of``
with a slow reference computed only from the certificate's audit events."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apcert.applications.models import Application
from apcert.applications.services import application_accept, application_submit, scope_line_add
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
)
from apcert.audit.models import AuditEvent
from apcert.certificates.asof import NOT_YET_ISSUED, AsOfAnswer, certificate_as_of
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_status_on
from apcert.certificates.services import (
    certificate_cancel,
    certificate_expire,
    certificate_grant,
    certificate_holder_renamed,
    certificate_reduce_scope,
    certificate_renew,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import DomainError
from apcert.organizations.services import organization_rename
from apcert.schemes.models import ProcessCategory
from tests.factories import DAY0, World, on_day

DAYS = dt.timedelta(days=1)


# --- building certificates ------------------------------------------------------------------


def _application(w: World, extra_lines: tuple[tuple[str, str], ...]) -> Application:
    """An accepted application: EPL at the main site plus ``extra_lines`` (category, site)."""
    app = w.draft_application(category="EPL")
    sites = {"site": w.site, "site2": w.site2}
    for code, site_key in extra_lines:
        scope_line_add(
            actor=w.org_user,
            application=app,
            category=ProcessCategory.objects.get(code=code),
            site=sites[site_key],
            wording=f"{code} at {site_key}",
            standards=("ISO 9001:2015",),
        )
    application_submit(actor=w.org_user, application=app, on=DAY0)
    return application_accept(actor=w.team.manager, application=app)


LINES = (("PWB", "site"), ("EPL", "site2"))


def _grant(w: World, *, on: dt.date, extra_lines: tuple[tuple[str, str], ...] = LINES) -> Any:
    app = _application(w, extra_lines)
    a = w.assessment(app, start=on - 10 * DAYS)
    with on_day(on):
        return certificate_grant(
            actor=w.team.decision_maker, application=app, assessment=a, decided_on=on
        )


def _surveillance(w: World, cert: Certificate, *, on: dt.date) -> None:
    """A surveillance visit carried out, its report issued ``on``."""
    t = w.team
    a = assessment_plan(
        actor=t.manager,
        kind="surveillance",
        certificate=cert,
        start_date=on - 3 * DAYS,
        end_date=on - 2 * DAYS,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(on):
        assessment_start(actor=t.lead, assessment=a)
        assessment_issue_report(actor=t.lead, assessment=a, issued_on=on)


def _renew(w: World, cert: Certificate, *, on: dt.date) -> Certificate:
    t = w.team
    a = assessment_plan(
        actor=t.manager,
        kind="reassessment",
        certificate=cert,
        start_date=on - 3 * DAYS,
        end_date=on - 2 * DAYS,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(on):
        assessment_start(actor=t.lead, assessment=a)
        a = assessment_issue_report(actor=t.lead, assessment=a, issued_on=on)
        return certificate_renew(
            actor=t.decision_maker,
            certificate=cert,
            assessment=a,
            rationale="Re-assessment satisfactory",
            decided_on=on,
        )


def _with_the_calendar(cert: Certificate, answers: set[AsOfAnswer]) -> set[AsOfAnswer]:
    """The audit trail's answers, moved on by what the calendar did after the last recorded
    change (an expiry, a missed surveillance window, the end of the maximum suspension),
    which holds whether or not the sweep recorded it. The calendar itself is
    ``certificates.timeline``'s, tested on its own."""
    out = set()
    today = timezone.localdate()
    for answer in answers:
        if answer.on < cert.status_since or answer.status != cert.status:
            out.add(answer)
            continue
        then = certificate_status_on(cert, answer.on)
        made = [c for c in then.unrecorded if c.to_status is not None]
        if not made:
            out.add(answer)
            continue
        out.add(
            dataclasses.replace(
                answer,
                status=then.status,
                reason=then.reason_category,
                current=False,
                recorded=not any(c.effective_on <= today for c in made),
            )
        )
    return out


# --- exact answers for one known life -------------------------------------------------------

G = DAY0 + 60 * DAYS


def test_a_known_life(world: World) -> None:
    w = world
    dm = w.team.decision_maker
    cert = _grant(w, on=G)
    expiry = cert.expires_on
    assert expiry == dt.date(2029, 3, 12)

    def ask(on: dt.date, **kw: Any) -> AsOfAnswer:
        return certificate_as_of(certificate=cert, on=on, **kw)

    # Before the grant: not yet issued, nothing covered.
    before = ask(G - DAYS, category="EPL")
    assert before == AsOfAnswer(
        number=cert.number,
        on=G - DAYS,
        status=NOT_YET_ISSUED,
        current=False,
        issue_number=None,
        covered=False,
        valid_until=None,
        reason=None,
    )
    assert ask(G - DAYS).covered is None

    # Grant day.
    assert ask(G) == AsOfAnswer(
        number=cert.number,
        on=G,
        status="current",
        current=True,
        issue_number=1,
        covered=None,
        valid_until=expiry,
        reason="granted",
    )

    suspended_on = G + 100 * DAYS
    certificate_suspend(
        actor=dm,
        certificate=cert,
        reason_category="unpaid_fees",
        reason="Invoice unpaid",
        decided_on=suspended_on,
    )
    restored_on = G + 130 * DAYS
    certificate_restore(actor=dm, certificate=cert, reason="Paid", decided_on=restored_on)

    assert ask(suspended_on - DAYS).current is True
    during = ask(suspended_on + 10 * DAYS, category="EPL", site_id=w.site.pk)
    assert (during.status, during.current, during.reason, during.covered) == (
        "suspended",
        False,
        "unpaid_fees",
        True,
    )
    assert ask(suspended_on).status == "suspended"
    assert ask(restored_on - DAYS).status == "suspended"
    restored = ask(restored_on)
    assert (restored.status, restored.current, restored.reason) == ("current", True, "resolved")

    # A scope reduction drops PWB at the main site.
    reduced_on = G + 200 * DAYS
    lines = cert.issues.get(issue_number=1).scope_lines
    assert [(x["category"], x["site_id"]) for x in lines] == [
        ("EPL", w.site.pk),
        ("PWB", w.site.pk),
        ("EPL", w.site2.pk),
    ]
    certificate_reduce_scope(
        actor=dm,
        certificate=cert,
        remove=[("PWB", w.site.pk)],
        reason="PWB withdrawn from the main plant",
        decided_on=reduced_on,
    )
    assert cert.issues.get(issue_number=2).scope_lines == [lines[0], lines[2]]
    day_before = ask(reduced_on - DAYS, category="PWB.PLT", site_id=w.site.pk)
    assert (day_before.issue_number, day_before.covered, day_before.current) == (1, True, True)
    assert ask(reduced_on, category="PWB.PLT", site_id=w.site.pk).covered is False
    assert ask(reduced_on, category="PWB").covered is False
    after_reduction = ask(reduced_on, category="EPL.SN", site_id=w.site2.pk)
    assert (after_reduction.issue_number, after_reduction.covered) == (2, True)
    assert ask(reduced_on, site_id=w.site2.pk).covered is True
    # A child line never covers its parent, and no line covers an unrelated category.
    assert ask(reduced_on, category="CMF").covered is False
    assert ask(reduced_on - DAYS, category="PWB", site_id=w.site2.pk).covered is False

    # Surveillance carried out on time (a missed window would suspend it), then renewal
    # before expiry: a new issue with a new expiry counted from the old one.
    _surveillance(w, cert, on=dt.date(2027, 3, 5))
    _surveillance(w, cert, on=dt.date(2028, 3, 5))
    renewed_on = expiry - 30 * DAYS
    cert = _renew(w, cert, on=renewed_on)
    new_expiry = cert.expires_on
    assert new_expiry == dt.date(2032, 3, 12)
    old = ask(renewed_on - DAYS)
    assert (old.issue_number, old.valid_until, old.current) == (2, expiry, True)
    new = ask(renewed_on, category="EPL", site_id=w.site2.pk)
    assert (new.issue_number, new.valid_until, new.current, new.covered) == (
        3,
        new_expiry,
        True,
        True,
    )
    assert ask(renewed_on, category="PWB").covered is False  # renewal keeps the reduced scope
    assert ask(expiry + DAYS).current is True

    # Withdrawal.
    withdrawn_on = expiry + 100 * DAYS
    with on_day(withdrawn_on):
        certificate_withdraw(
            actor=dm,
            certificate=cert,
            reason_category="misuse",
            reason="Mark misused",
            decided_on=withdrawn_on,
        )
    assert ask(withdrawn_on - DAYS).current is True
    gone = ask(withdrawn_on + 400 * DAYS, category="EPL")
    assert (gone.status, gone.current, gone.reason, gone.issue_number, gone.covered) == (
        "withdrawn",
        False,
        "misuse",
        3,
        True,
    )
    # Asking again after more history gives the same answer for a past day.
    assert ask(restored_on) == restored


def test_expiry_before_and_after_the_sweep_records_it(world: World) -> None:
    cert = _grant(world, on=G, extra_lines=())
    _surveillance(world, cert, on=dt.date(2027, 3, 5))
    _surveillance(world, cert, on=dt.date(2028, 3, 5))
    cert = Certificate.objects.get(pk=cert.pk)
    expiry = cert.expires_on
    # The sweep has not run: the status history still says current, but the validity
    # ended, and the status from that day is the one the calendar gives, not yet recorded.
    with time_machine.travel(dt.datetime(2029, 3, 20, 10, 0), tick=False):
        late = certificate_as_of(certificate=cert, on=expiry + DAYS, category="EPL")
    assert (late.status, late.current, late.valid_until, late.reason, late.recorded) == (
        "expired",
        False,
        expiry,
        "validity_ended",
        False,
    )
    assert certificate_as_of(certificate=cert, on=expiry).current is True

    certificate_expire(certificate=cert, as_of=expiry + 20 * DAYS)
    cert = Certificate.objects.get(pk=cert.pk)
    recorded = certificate_as_of(certificate=cert, on=expiry + DAYS, category="EPL")
    assert (recorded.status, recorded.current, recorded.reason, recorded.covered) == (
        "expired",
        False,
        "validity_ended",
        True,
    )
    # the same answer as before the sweep, now recorded
    assert recorded == dataclasses.replace(late, recorded=True)
    last_day = certificate_as_of(certificate=cert, on=expiry)
    assert (last_day.status, last_day.current) == ("current", True)


def test_same_day_changes_the_later_wins(world: World) -> None:
    w = world
    dm = w.team.decision_maker
    cert = _grant(w, on=G)
    day = G + 50 * DAYS
    certificate_suspend(
        actor=dm, certificate=cert, reason_category="complaint", reason="x", decided_on=day
    )
    certificate_restore(actor=dm, certificate=cert, reason="resolved", decided_on=day)
    lines = cert.issues.get(issue_number=1).scope_lines
    for n in (2, 3):
        gone = lines[4 - n]
        certificate_reduce_scope(
            actor=dm,
            certificate=cert,
            remove=[(gone["category"], gone["site_id"])],
            reason=f"cut {n}",
            decided_on=day,
        )
        assert cert.issues.get(issue_number=n).scope_lines == lines[: 4 - n]
    answer = certificate_as_of(certificate=cert, on=day, category="PWB")
    assert (answer.status, answer.reason, answer.issue_number, answer.covered) == (
        "current",
        "resolved",
        3,
        False,
    )


def test_a_certificate_that_never_left_draft(world: World) -> None:
    cert = _grant(world, on=G, extra_lines=())
    draft = Certificate.objects.create(
        number="IECQ-A X 26.9999",
        number_year=26,
        number_serial=9999,
        cb=cert.cb,
        scheme=cert.scheme,
        organization=cert.organization,
        application=cert.application,
        status="draft",
        status_since=G,
        first_issued_on=G,
        initial_decision_on=G,
        expires_on=cert.expires_on,
    )
    answer = certificate_as_of(certificate=draft, on=G + 10 * DAYS, site_id=world.site.pk)
    assert (answer.status, answer.current, answer.covered) == (NOT_YET_ISSUED, False, False)


# --- the property test: random histories against a reference from the audit trail ----------


@dataclass(frozen=True)
class Entry:
    """One certificate event, read from the audit trail. ``lo``/``hi`` bound the day it took
    effect (equal when the event says it)."""

    lo: dt.date
    hi: dt.date
    status: tuple[str, str] | None  # (to_status, reason category)
    issue: tuple[int, dt.date, tuple[tuple[str, int], ...]] | None  # number, until, lines


def _d(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


#: The audit actions of the services that make a new issue and keep the status.
REISSUES = (
    "renew",
    "extend_scope",
    "site_add",
    "reduce_scope",
    "site_remove",
    "holder_renamed",
    "site_renamed",
    "site_moved",
    "standard_update",
)


def reference_timeline(cert: Certificate) -> list[Entry]:
    """The certificate's public changes, from its audit events only, in ``seq`` order.

    The grant and the status decisions carry ``decided_on``; an expiry takes effect the day
    after the ``expires_on`` it ended (in ``before``). Re-issue and renewal events carry no
    ``decided_on``: their day is bounded by the events around them (decisions on a
    certificate are dated in order and never after its expiry), unless a later version of
    the service adds the key. A renewal keeps the scope lines of the issue it follows unless
    its event names them.
    """
    events = AuditEvent.objects.filter(
        object_type="certificates.certificate", object_id=str(cert.pk)
    ).order_by("seq")
    raw: list[tuple[dt.date | None, dt.date | None, Any, Any]] = []
    lines: tuple[tuple[str, int], ...] = ()
    for ev in events:
        after, before = ev.after or {}, ev.before or {}
        kind = ev.action.removeprefix("certificate.")
        if kind == "grant":
            lines = tuple((x["category"], x["site_id"]) for x in after["scope_lines"])
            day = _d(after["decided_on"])
            issue = (after["issue"], _d(after["expires_on"]), lines)
            raw.append((day, None, (after["status"], "granted"), issue))
        elif kind in ("suspend", "restore", "withdraw", "cancel"):
            status = (after["status"], after["reason_category"])
            raw.append((_d(after["decided_on"]), None, status, None))
        elif kind == "expire":
            day = _d(before["expires_on"]) + DAYS
            raw.append((day, None, (after["status"], "validity_ended"), None))
        elif kind in REISSUES:
            if "scope_lines" in after:
                lines = tuple((x["category"], x["site_id"]) for x in after["scope_lines"])
            issue = (after["issue"], _d(after["expires_on"]), lines)
            known = _d(after["decided_on"]) if "decided_on" in after else None
            raw.append((known, _d(before["expires_on"]), None, issue))
        else:
            raise AssertionError(f"the reference does not know {ev.action}")
    timeline = []
    for i, (known, cap, status, issue) in enumerate(raw):
        if known is not None:
            lo = hi = known
        else:
            assert cap is not None
            earlier = [k for k, *_ in raw[:i] if k is not None]
            later = [k for k, *_ in raw[i + 1 :] if k is not None]
            lo = max(earlier)
            hi = min([cap, *later])
        timeline.append(Entry(lo, hi, status, issue))
    return timeline


def reference_answers(
    timeline: list[Entry], number: str, on: dt.date, category: str | None, site_id: int | None
) -> set[AsOfAnswer]:
    """Every answer consistent with the audit trail: one when every day is known."""
    answers = set()
    for k in range(len(timeline) + 1):
        happened, pending = timeline[:k], timeline[k:]
        if any(e.lo > on for e in happened) or any(e.hi <= on for e in pending):
            continue
        status, reason = NOT_YET_ISSUED, None
        issue = None
        for e in happened:
            if e.status is not None:
                status, reason = e.status
            if e.issue is not None:
                issue = e.issue
        covered = None
        if category is not None or site_id is not None:
            covered = False
            for line_category, line_site in issue[2] if issue else ():
                parts = category.split(".") if category else []
                ancestors = {".".join(parts[: n + 1]) for n in range(len(parts))}
                if (category is None or line_category in ancestors) and (
                    site_id is None or line_site == site_id
                ):
                    covered = True
        answers.add(
            AsOfAnswer(
                number=number,
                on=on,
                status=status,
                current=status == "current" and issue is not None and on <= issue[1],
                issue_number=issue[0] if issue else None,
                covered=covered,
                valid_until=issue[1] if issue else None,
                reason=reason,
            )
        )
    assert answers, f"the audit trail allows no answer on {on}"
    return answers


# Terminal actions are rarer, so that most histories live long enough to renew and re-issue.
ACTIONS = (
    ["suspend", "restore", "reissue", "renew"] * 3 + ["expire", "wait"] * 2 + ["withdraw", "cancel"]
)
# (action, days before it (often the same day), a small number: the reason, the subset of
# lines, or the jump).
STEP = st.tuples(st.sampled_from(ACTIONS), st.just(0) | st.integers(0, 300), st.integers(0, 7))

PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _play(w: World, cert: Certificate, step: tuple[str, int, int], today: dt.date) -> dt.date:
    """Run one step dated ``today`` plus its delay; return the new today. Refusals by the
    services (a terminal status, a date past validity...) are part of a random history."""
    action, days, arg = step
    reason_category = ["misuse", "complaint", "unpaid_fees", "other"][arg % 4]
    dm = w.team.decision_maker
    today += days * DAYS
    cert = Certificate.objects.get(pk=cert.pk)
    try:
        if action == "suspend":
            certificate_suspend(
                actor=dm,
                certificate=cert,
                reason_category=reason_category,
                reason="r",
                decided_on=today,
            )
        elif action == "restore":
            certificate_restore(actor=dm, certificate=cert, reason="r", decided_on=today)
        elif action == "withdraw":
            certificate_withdraw(
                actor=dm,
                certificate=cert,
                reason_category=reason_category,
                reason="r",
                decided_on=today,
            )
        elif action == "cancel":
            certificate_cancel(actor=dm, certificate=cert, reason="r", decided_on=today)
        elif action == "reissue":
            last = cert.issues.order_by("-issue_number").first()
            assert last is not None
            lines = last.scope_lines
            subset = [x for i, x in enumerate(lines) if arg >> i & 1] or lines[:1]
            if len(lines) < 2 or len(subset) == len(lines):
                # Nothing to cut: the holder renamed, the scope unchanged.
                organization_rename(
                    actor=w.org_user, organization=w.org, legal_name=f"Holder {today}"
                )
                certificate_holder_renamed(actor=dm, certificate=cert, decided_on=today)
            else:
                certificate_reduce_scope(
                    actor=dm,
                    certificate=cert,
                    remove=[(x["category"], x["site_id"]) for x in lines if x not in subset],
                    reason="random change",
                    decided_on=today,
                )
        elif action == "renew":
            today += 3 * DAYS
            _renew(w, cert, on=today)
        elif action == "expire":
            if arg % 3 == 0:  # let time run past validity
                today = max(today, cert.expires_on + DAYS)
            certificate_expire(certificate=cert, as_of=today)
    except DomainError:
        pass
    return today


@hypothesis_settings(PROPERTY_SETTINGS)
@given(
    steps=st.lists(STEP, min_size=2, max_size=12),
    offsets=st.lists(st.integers(-20, 2000), max_size=15),
)
def test_as_of_agrees_with_the_audit_trail(
    world: World, steps: list[tuple[str, int, int]], offsets: list[int]
) -> None:
    w = world
    sid = transaction.savepoint()
    try:
        grant_day = G
        cert = _grant(w, on=grant_day)
        today = grant_day
        for step in steps:
            today = _play(w, cert, step, today)
        cert = Certificate.objects.get(pk=cert.pk)

        # Probe the change days and the days either side, the validity ends, and random days.
        days = set(cert.status_changes.values_list("effective_on", flat=True))
        days |= set(cert.issues.values_list("issued_on", flat=True))
        days |= set(cert.issues.values_list("valid_until", flat=True))
        probes = {d + k * DAYS for d in days for k in (-1, 0, 1)}
        probes |= {grant_day + n * DAYS for n in offsets}
        questions: list[tuple[str | None, int | None]] = [
            (None, None),
            ("EPL", None),
            ("EPL.SN", w.site2.pk),
            ("PWB", w.site.pk),
            ("PWB.PLT", None),
            (None, w.site2.pk),
            ("CMF", w.site.pk),
        ]
        timeline = reference_timeline(cert)
        for action in sorted(set(cert.decisions.values_list("kind", flat=True))):
            event(f"decision: {action}")
        event(f"status: {cert.status}")
        for on in sorted(probes):
            for category, site_id in questions:
                got = certificate_as_of(certificate=cert, on=on, category=category, site_id=site_id)
                allowed = _with_the_calendar(
                    cert, reference_answers(timeline, cert.number, on, category, site_id)
                )
                assert got in allowed, (on, category, site_id, got, allowed)
                if len(allowed) > 1:
                    event("a day the audit trail leaves open")
                # Whatever the audit trail leaves open, status and currency never depend on
                # it: a re-issue keeps the status, and a renewal decided before expiry
                # cannot change whether a day is inside validity.
                assert {(a.status, a.current, a.reason) for a in allowed} == {
                    (got.status, got.current, got.reason)
                }
    finally:
        transaction.savepoint_rollback(sid)


@pytest.mark.parametrize("code", ["PWB", "PWB.PLT", "PWB.SF.ENIG"])
def test_a_parent_line_covers_its_descendants(world: World, code: str) -> None:
    cert = _grant(world, on=G, extra_lines=(("PWB", "site2"),))
    answer = certificate_as_of(certificate=cert, on=G, category=code, site_id=world.site2.pk)
    assert answer.covered is True
    assert certificate_as_of(certificate=cert, on=G, category="PWBX").covered is False
