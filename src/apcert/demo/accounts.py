"""The demo sign-in accounts: known usernames with fixed, published passwords.

For a demo only. They are the Secretariat (who may open the Django admin), and the
administrator (who issues API tokens and subscribes webhooks), the scheme manager, an assessor
and a decision maker of the first demo CB, and the user of one of its certified organizations,
so each role sees data of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from apcert.accounts.models import User
from apcert.bodies.models import CBStaff, CertificationBody
from apcert.bodies.services import cb_staff_add
from apcert.demo import words
from apcert.demo.setup import SECRETARIAT_USERNAME
from apcert.organizations.models import Organization, OrganizationMember
from apcert.organizations.services import organization_member_add

ADMIN_URL = "http://127.0.0.1:8000/admin/"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str


def _password(user: User, password: str) -> None:
    if not user.check_password(password) or not user.is_active:
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])


def _account(username: str, full_name: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        first, _, last = full_name.partition(" ")
        user = User.objects.create(
            username=username, full_name=full_name, first_name=first, last_name=last
        )
    return user


def demo_accounts_ensure() -> tuple[list[DemoAccount], list[str]]:
    """Create or reset the demo accounts. Running it twice changes nothing more."""
    accounts: list[DemoAccount] = []
    notes: list[str] = []
    with transaction.atomic():
        secretariat = _account(SECRETARIAT_USERNAME, "IECQ Secretariat")
        if not (secretariat.is_secretariat and secretariat.is_staff):
            secretariat.is_secretariat = True
            secretariat.is_staff = True  # the Django admin needs it; no superuser needed
            secretariat.save(update_fields=["is_secretariat", "is_staff"])
        _password(secretariat, "secretariat-demo")
        accounts.append(
            DemoAccount("Secretariat (admin)", secretariat.username, "secretariat-demo")
        )

        code = words.CERTIFICATION_BODIES[0].code
        cb = CertificationBody.objects.filter(code=code).first()
        if cb is None:
            notes.append(f"no CB {code} yet: run 'apcert demo-data' for the CB and org accounts")
            return accounts, notes
        prefix = code.lower()
        for role, username, label in (
            ("admin", f"{prefix}-admin", "CB administrator"),
            ("scheme_manager", f"{prefix}-manager", "CB scheme manager"),
            ("assessor", f"{prefix}-assessor1", "CB assessor"),
            ("decision_maker", f"{prefix}-decider1", "CB decision maker"),
        ):
            user = _account(username, f"{code} {label}")
            if not CBStaff.objects.filter(cb=cb, user=user, role=role, active=True).exists():
                cb_staff_add(actor=secretariat, cb=cb, user=user, role=role)
            password = f"{username}-demo"
            _password(user, password)
            accounts.append(DemoAccount(f"{label} ({code})", username, password))

        org_user = _organization_user(cb, secretariat)
        if org_user is None:
            notes.append(f"{code} has no current certificate yet: no organization account")
        else:
            user, org = org_user
            _password(user, "organization-demo")
            accounts.append(
                DemoAccount(
                    f"organization user ({org.legal_name})", user.username, "organization-demo"
                )
            )
    return accounts, notes


def _organization_user(
    cb: CertificationBody, secretariat: User
) -> tuple[User, Organization] | None:
    """The first user of the first organization holding a current certificate of ``cb``."""
    holders = Organization.objects.filter(
        certificates__cb=cb, certificates__status="current"
    ).order_by("pk")
    member = (
        OrganizationMember.objects.filter(organization__in=holders)
        .select_related("user", "organization")
        .order_by("organization_id", "pk")
        .first()
    )
    if member is not None:
        return member.user, member.organization
    org = holders.first()
    if org is None:
        return None
    user = _account("demo-organization", "Demo Organization User")
    organization_member_add(actor=secretariat, organization=org, user=user, role="admin")
    return user, org
