"""Reading certification bodies and their acceptances: the Secretariat's view.

The CBs, their acceptances and staff are the Secretariat's to keep;
these selectors refuse anyone else with the same ``permission.secretariat_required`` error
the services give, so a page built on them cannot show a CB list to a CB user by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Prefetch, Q, QuerySet

from apcert.bodies.choices import AcceptanceStatus
from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.core.permissions import require_secretariat

if TYPE_CHECKING:
    from apcert.accounts.models import User


def cbs_for_secretariat(actor: User | None) -> QuerySet[CertificationBody]:
    """Every CB, each with the number of its acceptances and of those active; the
    Secretariat only."""
    require_secretariat(actor)
    return CertificationBody.objects.annotate(
        acceptance_count=Count("acceptances", distinct=True),
        active_acceptance_count=Count(
            "acceptances",
            filter=Q(acceptances__status=AcceptanceStatus.ACTIVE),
            distinct=True,
        ),
    )


def cb_acceptances_for_secretariat(actor: User | None) -> QuerySet[CBAcceptance]:
    """Every acceptance, with its CB, scheme, programme and categories; the Secretariat only."""
    require_secretariat(actor)
    return CBAcceptance.objects.select_related("cb", "scheme", "programme").prefetch_related(
        "categories"
    )


def cb_with_acceptances_for_secretariat(actor: User | None) -> QuerySet[CertificationBody]:
    """CBs with their acceptances (programme, scheme, categories) prefetched, by programme."""
    return cbs_for_secretariat(actor).prefetch_related(
        Prefetch(
            "acceptances",
            queryset=cb_acceptances_for_secretariat(actor).order_by("programme__code"),
        )
    )


def cb_codes_for_secretariat(actor: User | None) -> list[str]:
    """Every CB's code, in order (the choices of a filter); the Secretariat only."""
    require_secretariat(actor)
    return list(CertificationBody.objects.order_by("code").values_list("code", flat=True))


def cb_countries_for_secretariat(actor: User | None) -> list[str]:
    """The countries CBs are in, each once, in order; the Secretariat only."""
    require_secretariat(actor)
    return list(
        CertificationBody.objects.order_by("country").values_list("country", flat=True).distinct()
    )


def is_active_cb_staff(user: User | None) -> bool:
    """Whether ``user`` holds an active role at any CB (the CB section is theirs)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return CBStaff.objects.filter(user=user, active=True).exists()


def staff_cb_ids(user: User, *, roles: tuple[str, ...] = ()) -> list[int]:
    """The ids of the CBs where ``user`` is active staff (in one of ``roles``, when given),
    read now: a list the CB section's selectors filter by, so that a CB's list is read as
    ``cb = ?`` along an index in its order rather than sorted whole after a subquery."""
    staff = CBStaff.objects.filter(user=user, active=True)
    if roles:
        staff = staff.filter(role__in=roles)
    return sorted(set(staff.values_list("cb_id", flat=True)))


def cb_codes_of_staff(user: User | None) -> list[str]:
    """The codes of the CBs where ``user`` is active staff, in any role, in order: whose
    records the CB section shows them (its headings name them)."""
    if user is None or not user.is_active:
        return []
    return list(
        CertificationBody.objects.filter(staff__user=user, staff__active=True)
        .distinct()
        .order_by("code")
        .values_list("code", flat=True)
    )


def active_staff_of(cb: CertificationBody) -> QuerySet[CBStaff]:
    """The active roles of the active people of ``cb``, by person (for choosing a team)."""
    return (
        CBStaff.objects.filter(cb=cb, active=True, user__is_active=True)
        .select_related("user")
        .order_by("user__full_name", "user__username", "role")
    )


def cb_roles_held(user: User | None) -> dict[str, set[str]]:
    """The active roles ``user`` holds, by the code of each CB (one query; empty for anyone
    who is no CB's active staff, the Secretariat included)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return {}
    held: dict[str, set[str]] = {}
    for code, role in (
        CBStaff.objects.filter(user=user, active=True)
        .order_by("cb__code")
        .values_list("cb__code", "role")
    ):
        held.setdefault(code, set()).add(role)
    return held
