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


#: A search reads at most this many words.
MAX_QUERY_WORDS = 8


def _invitation_target_querysets(
    actor: User,
) -> tuple[QuerySet[CertificationBody], QuerySet[Organization]]:
    """The CBs and organizations the actor may invite to, in display order: every one for
    the Secretariat; else the CBs where the actor is an active administrator and the
    organizations the actor administers."""
    cbs = CertificationBody.objects.order_by("code", "pk")
    organizations = Organization.objects.order_by("legal_name", "pk")
    if not actor.is_active:
        return cbs.none(), organizations.none()
    if is_secretariat(actor):
        return cbs, organizations
    return (
        cbs.filter(
            pk__in=CBStaff.objects.filter(user=actor, active=True, role=CBRole.ADMIN).values(
                "cb_id"
            )
        ),
        organizations.filter(
            pk__in=OrganizationMember.objects.filter(
                user=actor, role=OrganizationRole.ADMIN
            ).values("organization_id")
        ),
    )


def invitation_target_kinds(actor: User) -> tuple[bool, bool]:
    """Whether the actor may invite to some CB, and to some organization: every CB and
    organization for the Secretariat; else the CBs where the actor is an active administrator
    and the organizations the actor administers."""
    cbs, organizations = _invitation_target_querysets(actor)
    return cbs.exists(), organizations.exists()


@dataclass(frozen=True)
class InvitationTargetMatches:
    """The places matching a search among those a person may invite to: at most ``limit`` of
    them (CBs first), how many match in all, and how many places there are to choose from."""

    cbs: list[CertificationBody]
    organizations: list[Organization]
    found: int
    total: int


def _words(query: str) -> list[str]:
    return (query or "").split()[:MAX_QUERY_WORDS]


def invitation_target_matches(
    actor: User, query: str = "", *, limit: int = 20
) -> InvitationTargetMatches:
    """The CBs (by code or name) and organizations (by legal name, or by a two-letter country
    code) the actor may invite to whose text holds every word of ``query``. Only places the
    actor may invite to are ever read, so that no other organization's name is shown."""
    cbs, organizations = _invitation_target_querysets(actor)
    total = cbs.count() + organizations.count()
    for word in _words(query):
        cbs = cbs.filter(Q(code__icontains=word) | Q(name__icontains=word))
        org_match = Q(legal_name__icontains=word)
        if len(word) == 2 and word.isalpha():
            org_match |= Q(country=word.upper())
        organizations = organizations.filter(org_match)
    found_cbs = list(cbs[:limit])
    found_organizations = list(organizations[: limit - len(found_cbs)])
    found = (
        len(found_cbs) + len(found_organizations)
        if len(found_cbs) + len(found_organizations) < limit
        else cbs.count() + organizations.count()
    )
    return InvitationTargetMatches(found_cbs, found_organizations, found, total)


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


def invitation_target(actor: User, value: str) -> CertificationBody | Organization | None:
    """The CB (``cb:<id>``) or organization (``org:<id>``) a form names, if the actor may
    invite there; None for any other value, so that one the actor may not invite to reads
    the same as one that does not exist."""
    kind, _, raw = (value or "").partition(":")
    if not raw.isdigit():
        return None
    cbs, organizations = _invitation_target_querysets(actor)
    if kind == "cb":
        return cbs.filter(pk=int(raw)).first()
    if kind == "org":
        return organizations.filter(pk=int(raw)).first()
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
