"""How the stored visit schedule keeps in step with the changes the domain announces.

Registered in :class:`apcert.cycle.apps.CycleConfig.ready`; each runs in the transaction of
the service that made the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from apcert.cycle.schedule import (
    PROGRAMME_RULE_FIELDS,
    visit_schedule_refresh,
    visit_schedule_refresh_scheme,
)

if TYPE_CHECKING:
    from apcert.certificates.models import Certificate


def certificate_changed(certificate: Certificate) -> None:
    visit_schedule_refresh([certificate.pk])


def certificate_visits_changed(certificate_ids: list[int]) -> None:
    """An assessment planned, reported or withdrawn moves its certificate's programme."""
    visit_schedule_refresh(certificate_ids)


def scheme_rules_changed(
    scheme_id: int, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    # The audit programme of every live certificate of the scheme moves with its rules.
    if any(before.get(k) != after.get(k) for k in PROGRAMME_RULE_FIELDS):
        visit_schedule_refresh_scheme(scheme_id)
