"""The small, regulated part of the demo data, made through the real services: the
Secretariat, the certification bodies, their acceptances and their staff.

The services stamp rows and audit events with ``timezone.now()``. For a data set that is
the same on every run, they run here under a demo clock that starts at a fixed moment and
ticks one millisecond per reading.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

from django.utils import timezone

from apcert.accounts.models import User
from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.bodies.services import cb_acceptance_grant, cb_create, cb_staff_add
from apcert.demo import words
from apcert.schemes.models import Programme
from apcert.schemes.services import reference_load

#: Accounts made by demo-data have no usable password ("!" prefix, as Django's unusable
#: passwords); ``apcert demo-accounts`` gives a few of them a known one.
NO_LOGIN = "!demo-data-account"
SECRETARIAT_USERNAME = "secretariat"


@contextmanager
def demo_clock(start: dt.datetime) -> Iterator[None]:
    ticks = itertools.count()

    def now() -> dt.datetime:
        return start + dt.timedelta(milliseconds=next(ticks))

    with mock.patch.object(timezone, "now", now):
        yield


@dataclass(frozen=True)
class Person:
    id: int
    label: str  # as User.label: how the audit trail names the person


@dataclass
class CBInfo:
    id: int
    code: str
    country: str
    weight: int
    programmes: frozenset[str]
    manager: Person
    assessors: list[Person] = field(default_factory=list)
    deciders: list[Person] = field(default_factory=list)


def _person(user: User) -> Person:
    return Person(user.pk, user.label)


def _user(
    username: str, full_name: str, *, email_domain: str, is_secretariat: bool = False
) -> User:
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user
    first, _, last = full_name.partition(" ")
    user = User(
        username=username,
        full_name=full_name,
        first_name=first,
        last_name=last,
        email=f"{username}@{email_domain}",
        password=NO_LOGIN,
        is_secretariat=is_secretariat,
        date_joined=timezone.now(),  # the field's default is bound to the real clock
    )
    user.save()
    return user


def setup_bodies(*, seed: int, start: dt.datetime) -> tuple[User, list[CBInfo]]:
    """Reference data, the Secretariat and the CBs with acceptances and staff. Idempotent:
    what exists already (by username, CB code, programme) is kept."""
    rng = random.Random(f"demo-staff-{seed}")
    with demo_clock(start):
        reference_load(actor=None, system=True)
        secretariat = _user(
            SECRETARIAT_USERNAME,
            "IECQ Secretariat",
            email_domain="iecq-secretariat.example",
            is_secretariat=True,
        )
        if not secretariat.is_secretariat:
            raise RuntimeError(f"the user '{SECRETARIAT_USERNAME}' exists but is not Secretariat")
        programmes = {p.code: p for p in Programme.objects.all()}
        bodies = []
        for index, spec in enumerate(words.CERTIFICATION_BODIES):
            cb = CertificationBody.objects.filter(code=spec.code).first()
            if cb is None:
                cb = cb_create(
                    actor=secretariat,
                    code=spec.code,
                    name=spec.name,
                    country=spec.country,
                    website=spec.website,
                )
            accepted_on = start.date() + dt.timedelta(days=30 + 7 * index)
            for code in spec.programmes:
                if not CBAcceptance.objects.filter(cb=cb, programme__code=code).exists():
                    cb_acceptance_grant(
                        actor=secretariat,
                        cb=cb,
                        programme=programmes[code],
                        accepted_on=accepted_on,
                    )
            bodies.append(_staff(rng, secretariat, cb, spec))
    return secretariat, bodies


def _staff(
    rng: random.Random, secretariat: User, cb: CertificationBody, spec: words.CBSpec
) -> CBInfo:
    country = words.COUNTRY_BY_CODE[spec.country]
    domain = spec.website.removeprefix("https://www.")
    prefix = spec.code.lower()

    def person(username: str, role: str) -> Person:
        name = f"{rng.choice(country.first_names)} {rng.choice(country.last_names)}"
        user = _user(username, name, email_domain=domain)
        if not CBStaff.objects.filter(cb=cb, user=user, role=role, active=True).exists():
            cb_staff_add(actor=secretariat, cb=cb, user=user, role=role)
        return _person(user)

    info = CBInfo(
        id=cb.pk,
        code=cb.code,
        country=cb.country,
        weight=spec.weight,
        programmes=frozenset(spec.programmes),
        manager=person(f"{prefix}-manager", "scheme_manager"),
    )
    info.assessors = [
        person(f"{prefix}-assessor{i}", "assessor") for i in range(1, spec.assessors + 1)
    ]
    info.deciders = [person(f"{prefix}-decider{i}", "decision_maker") for i in (1, 2)]
    return info
