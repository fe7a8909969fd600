"""Grants at the same moment never share a certificate number (PostgreSQL row locks)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections, transaction

from apcert.audit.selectors import audit_chain_verify
from apcert.certificates.models import Certificate, CertificateNumberSequence
from apcert.certificates.services import certificate_grant
from apcert.core.errors import DomainError
from tests.factories import World

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="needs concurrent connections with row locks (PostgreSQL)",
)

GRANTS = 4


def test_given_concurrent_grants_at_one_cb_then_numbers_differ(live_world: World) -> None:
    world = live_world
    pairs = []
    for _ in range(GRANTS):
        app = world.accepted_application()
        pairs.append((app, world.assessment(app)))
    decided_on = dt.date(2026, 5, 4)
    # A first grant creates the CB's sequence row for the year, so that the concurrent ones
    # below race on reading and incrementing it (not on creating it).
    app0 = world.accepted_application()
    certificate_grant(
        actor=world.team.decision_maker,
        application=app0,
        assessment=world.assessment(app0),
        decided_on=decided_on,
    )
    barrier = threading.Barrier(GRANTS)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def grant(app, assessment) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait(timeout=10)
            cert = certificate_grant(
                actor=world.team.decision_maker,
                application=app,
                assessment=assessment,
                decided_on=decided_on,
            )
            numbers.append(cert.number)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=grant, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    code = world.team.cb.code
    assert sorted(numbers) == [f"IECQ-A {code} 26.{n:04d}" for n in range(2, GRANTS + 2)]
    assert Certificate.objects.filter(cb=world.team.cb).count() == GRANTS + 1
    sequence = CertificateNumberSequence.objects.get(cb=world.team.cb, year=2026)
    assert sequence.last_serial == GRANTS + 1
    assert audit_chain_verify().ok
    assert connection.vendor == "postgresql"


def test_a_refused_or_rolled_back_grant_commits_no_number_and_none_is_given_twice(
    live_world: World,
) -> None:
    world = live_world
    app1 = world.accepted_application()
    a1 = world.assessment(app1)
    first = certificate_grant(
        actor=world.team.decision_maker,
        application=app1,
        assessment=a1,
        decided_on=dt.date(2026, 5, 4),
    )
    app2 = world.accepted_application()
    a2 = world.assessment(app2, findings=("major",))  # open major: the grant is refused
    with pytest.raises(DomainError) as refused:
        certificate_grant(
            actor=world.team.decision_maker,
            application=app2,
            assessment=a2,
            decided_on=dt.date(2026, 5, 4),
        )
    assert refused.value.code == "decision.open_major"
    world.resolve_findings(a2)
    second = certificate_grant(
        actor=world.team.decision_maker,
        application=app2,
        assessment=a2,
        decided_on=dt.date(2026, 5, 5),
    )
    assert first.number.endswith(".0001")
    assert second.number.endswith(".0002")

    # A grant rolled back after it took its number commits nothing: the serial it held,
    # never seen, goes to the next grant; the committed ones are never given again
    app3 = world.accepted_application()
    a3 = world.assessment(app3)
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled = certificate_grant(
            actor=world.team.decision_maker,
            application=app3,
            assessment=a3,
            decided_on=dt.date(2026, 5, 6),
        )
        assert rolled.number.endswith(".0003")
        raise RuntimeError("the caller's transaction fails after the grant")
    assert not Certificate.objects.filter(number=rolled.number).exists()
    third = certificate_grant(
        actor=world.team.decision_maker,
        application=app3,
        assessment=a3,
        decided_on=dt.date(2026, 5, 6),
    )
    assert third.number.endswith(".0003")
    numbers = list(Certificate.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 3
