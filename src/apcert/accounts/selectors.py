"""Reading accounts: a person's roles, where they may invite, the invitations they may see."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone

from apcert.accounts.models import CalendarFeed, Invitation, User
from apcert.bodies.choices import CBRole
from apcert.bodies.models import CBStaff, CertificationBody
from apcert.core.permissions import is_secretariat
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.models import Organization, OrganizationMember


@dataclass(frozen=True)
class CBRoles:
    """A person's active roles at one CB."""

    cb: CertificationBody
    roles: list[str]

    @property
    def labels(self) -> list[str]:
        return [CBRole(r).label for r in self.roles]


@dataclass(frozen=True)
class OrganizationRoles:
    """A person's role at one organization."""

    organization: Organization
    role: str

    @property
    def label(self) -> str:
        return OrganizationRole(self.role).label


@dataclass(frozen=True)
class UserRoles:
    """Everything a person may act as: the Secretariat, CB roles per CB, organizations."""

    secretariat: bool
    cbs: list[CBRoles] = field(default_factory=list)
    organizations: list[OrganizationRoles] = field(default_factory=list)

    @property
    def none(self) -> bool:
        return not (self.secretariat or self.cbs or self.organizations)


def user_roles(user: User) -> UserRoles:
    """The person's roles, CBs by code and organizations by name. Inactive CB roles are left
    out: they give no rights."""
    if not user.is_active:
        return UserRoles(secretariat=False)
    by_cb: dict[int, CBRoles] = {}
    order = {role: i for i, role in enumerate(CBRole.values)}
    for staff in (
        CBStaff.objects.filter(user=user, active=True)
        .select_related("cb")
        .order_by("cb__code", "role")
    ):
        by_cb.setdefault(staff.cb_id, CBRoles(staff.cb, [])).roles.append(staff.role)
    for entry in by_cb.values():
        entry.roles.sort(key=lambda r: order.get(r, len(order)))
    organizations = [
        OrganizationRoles(m.organization, m.role)
        for m in OrganizationMember.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__legal_name", "organization_id")
    ]
    return UserRoles(
        secretariat=bool(user.is_secretariat),
        cbs=list(by_cb.values()),
        organizations=organizations,
    )


@dataclass(frozen=True)
class InvitationTargets:
    """The CBs and organizations a person may invite colleagues to."""

    cbs: list[CertificationBody]
    organizations: list[Organization]

    def __bool__(self) -> bool:
        return bool(self.cbs or self.organizations)


def invitation_targets(actor: User) -> InvitationTargets:
    """Where the actor may invite: every CB and organization for the Secretariat; else the CBs
    where the actor is an active administrator and the organizations the actor administers."""
    if not actor.is_active:
        return InvitationTargets([], [])
    if is_secretariat(actor):
        return InvitationTargets(
            list(CertificationBody.objects.order_by("code")),
            list(Organization.objects.order_by("legal_name", "pk")),
        )
    return InvitationTargets(
        list(
            CertificationBody.objects.filter(
                staff__user=actor, staff__active=True, staff__role=CBRole.ADMIN
            )
            .distinct()
            .order_by("code")
        ),
        list(
            Organization.objects.filter(
                members__user=actor, members__role=OrganizationRole.ADMIN
            ).order_by("legal_name", "pk")
        ),
    )


def may_invite_anywhere(actor: User) -> bool:
    """Whether the actor may invite colleagues to any CB or organization at all."""
    if not actor.is_active:
        return False
    if is_secretariat(actor):
        return True
    return (
        CBStaff.objects.filter(user=actor, active=True, role=CBRole.ADMIN).exists()
        or OrganizationMember.objects.filter(user=actor, role=OrganizationRole.ADMIN).exists()
    )


def invitation_target(value: str) -> CertificationBody | Organization | None:
    """The CB (``cb:<id>``) or organization (``org:<id>``) a form names, if it exists.

    Whether the actor may invite there is the service's question, not this one's.
    """
    kind, _, raw = (value or "").partition(":")
    if not raw.isdigit():
        return None
    if kind == "cb":
        return CertificationBody.objects.filter(pk=int(raw)).first()
    if kind == "org":
        return Organization.objects.filter(pk=int(raw)).first()
    return None


def invitations_pending_visible_to(actor: User) -> QuerySet[Invitation]:
    """Invitations not yet accepted nor expired that the actor sent, or that are to a CB or an
    organization the actor administers; all of them for the Secretariat. Newest first."""
    qs = (
        Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by", "cb", "organization")
        .order_by("-created_at", "-pk")
    )
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    admin_cbs = CBStaff.objects.filter(user=actor, active=True, role=CBRole.ADMIN).values("cb_id")
    admin_orgs = OrganizationMember.objects.filter(user=actor, role=OrganizationRole.ADMIN).values(
        "organization_id"
    )
    return qs.filter(
        Q(invited_by=actor) | Q(cb_id__in=admin_cbs) | Q(organization_id__in=admin_orgs)
    )


def calendar_feed_of(user: User) -> CalendarFeed | None:
    """``user``'s active calendar feed, if they have one."""
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()
