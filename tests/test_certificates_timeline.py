"""The status a certificate has on a day, from its facts alone: the function that the sweep
records with and that every read shows."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_status_on
from apcert.certificates.timeline import StatusFacts, dated_changes, lapses_on, status_on
from apcert.cycle.sweep import cycle_sweep
from tests.factories import World

D = dt.date


def _facts(**kw: object) -> StatusFacts:
    base: dict[str, object] = {
        "status": "current",
        "status_since": D(2026, 3, 24),
        "expires_on": D(2029, 3, 23),
        "surveillance_due_by": D(2027, 5, 23),
        "max_suspension_months": 6,
        "suspension_end_action": "withdraw",
    }
    base.update(kw)
    return StatusFacts(**base)  # type: ignore[arg-type]


def test_current_until_the_window_closes_then_suspended_then_withdrawn() -> None:
    facts = _facts()
    assert status_on(facts, D(2027, 5, 23)).status == "current"
    assert status_on(facts, D(2027, 5, 23)).recorded
    on = status_on(facts, D(2027, 5, 24))
    assert (on.status, on.since, on.reason_category) == (
        "suspended",
        D(2027, 5, 24),
        "missed_surveillance",
    )
    assert not on.recorded
    assert status_on(facts, D(2027, 11, 23)).status == "suspended"
    later = status_on(facts, D(2027, 11, 24))
    assert (later.status, later.since, later.reason_category) == (
        "withdrawn",
        D(2027, 11, 24),
        "suspension_exceeded",
    )
    assert [c.action for c in later.unrecorded] == ["suspend", "withdraw"]
    assert lapses_on(facts) == D(2027, 5, 24)


def test_expired_the_day_after_the_last_valid_day() -> None:
    facts = _facts(surveillance_due_by=None)
    assert status_on(facts, D(2029, 3, 23)).status == "current"
    on = status_on(facts, D(2029, 3, 24))
    assert (on.status, on.since) == ("expired", D(2029, 3, 24))
    assert on.reason_category == "validity_ended"


def test_a_suspension_that_outlives_the_validity_ends_in_expiry() -> None:
    facts = _facts(status="suspended", status_since=D(2029, 1, 1), surveillance_due_by=None)
    assert [c.action for c in dated_changes(facts)] == ["expire"]
    assert status_on(facts, D(2029, 3, 24)).status == "expired"


def test_a_window_settled_by_a_restoration_suspends_nothing() -> None:
    facts = _facts(status_since=D(2027, 6, 10), surveillance_due_by=D(2027, 5, 23))
    assert [c.action for c in dated_changes(facts)] == ["expire"]


def test_where_the_rule_is_to_reduce_the_scope_a_decision_falls_due_and_status_stays() -> None:
    facts = _facts(
        status="suspended", status_since=D(2027, 1, 1), suspension_end_action="reduce_scope"
    )
    on = status_on(facts, D(2027, 8, 1))
    assert on.status == "suspended"
    assert on.decision_due is not None
    assert on.decision_due.effective_on == D(2027, 7, 1)


def test_terminal_statuses_never_change() -> None:
    for status in ("withdrawn", "cancelled", "expired", "draft"):
        facts = _facts(status=status)
        assert dated_changes(facts) == []
        assert lapses_on(facts) is None
        assert status_on(facts, D(2040, 1, 1)).status == status


days = st.dates(min_value=D(2026, 1, 1), max_value=D(2031, 1, 1))


@given(
    status=st.sampled_from(["current", "suspended"]),
    since=days,
    expires=days,
    due_by=st.one_of(st.none(), days),
    months=st.integers(min_value=1, max_value=12),
    first=days,
    second=days,
)
def test_status_moves_only_forward_in_time(
    status: str,
    since: dt.date,
    expires: dt.date,
    due_by: dt.date | None,
    months: int,
    first: dt.date,
    second: dt.date,
) -> None:
    # The status on a later day is the status on the earlier day moved on by the rules:
    # asking on the earlier day, then asking again from what it said, gives the same answer.
    facts = _facts(
        status=status,
        status_since=since,
        expires_on=expires,
        surveillance_due_by=due_by,
        max_suspension_months=months,
    )
    early, late = sorted((first, second))
    on_early = status_on(facts, early)
    moved = _facts(
        status=on_early.status,
        status_since=on_early.since,
        expires_on=expires,
        surveillance_due_by=due_by if on_early.recorded else None,
        max_suspension_months=months,
    )
    assert status_on(moved, late).status == status_on(facts, late).status
    nxt = lapses_on(facts)
    if nxt is not None and nxt > early:
        assert on_early.recorded


def test_the_read_and_the_sweep_agree_on_every_day(world: World) -> None:
    # Given a certificate that misses its first surveillance and is never restored
    cert = world.granted()
    stored = Certificate.objects.get(pk=cert.pk)
    assert stored.lapses_on == D(2027, 5, 24)

    # Then on each boundary day, the read before the sweep says what the sweep then records
    for day in (D(2027, 5, 23), D(2027, 5, 24), D(2027, 11, 23), D(2027, 11, 24)):
        read = certificate_status_on(Certificate.objects.get(pk=cert.pk), day)
        cycle_sweep(as_of=day)
        after = Certificate.objects.get(pk=cert.pk)
        assert (after.status, after.status_since) == (read.status, read.since), day
        assert certificate_status_on(after, day).recorded
