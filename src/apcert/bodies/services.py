"""Certification bodies, their acceptance and their staff. The Secretariat keeps these."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction

from apcert.audit.services import audit_record
from apcert.bodies.choices import AcceptanceStatus, CBRole
from apcert.bodies.errors import (
    CB_ACCEPTANCE_EXISTS,
    CB_CODE_TAKEN,
    CB_INVALID_CODE,
    CB_STAFF_EXISTS,
)
from apcert.bodies.lifecycle import CB_ACCEPTANCE
from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.bodies.permissions import cb_roles
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_COUNTRY,
    INVALID_DATE_ORDER,
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    PERMISSION_CB_ROLE_REQUIRED,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.core.permissions import is_secretariat, require_secretariat

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.schemes.models import ProcessCategory, Programme

CB_CODE = re.compile(r"^[A-Z0-9]{2,8}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")


def validate_country(value: str, field: str = "country") -> str:
    code = (value or "").strip().upper()
    if not COUNTRY.match(code):
        raise ValidationFailed(
            f"'{value}' is not a country code: use the two letters of ISO 3166-1 (e.g. DE).",
            code=INVALID_COUNTRY,
            field=field,
        )
    return code


def cb_create(
    *, actor: User, code: str, name: str, country: str, website: str = ""
) -> CertificationBody:
    """The Secretariat accepts a new CB into IECQ and gives it its code."""
    require_secretariat(actor)
    code = (code or "").strip().upper()
    if not CB_CODE.match(code):
        raise ValidationFailed(
            "A CB code is 2 to 8 letters or digits (it appears in certificate numbers).",
            code=CB_INVALID_CODE,
            field="code",
        )
    if not (name or "").strip():
        raise ValidationFailed("A CB needs a name.", code=INVALID_REQUIRED, field="name")
    country = validate_country(country)
    with transaction.atomic():
        if CertificationBody.objects.filter(code__iexact=code).exists():
            raise RuleViolation(
                f"The CB code {code} is already given to another CB.",
                code=CB_CODE_TAKEN,
                field="code",
            )
        cb = CertificationBody.objects.create(
            code=code, name=name.strip(), country=country, website=website
        )
        audit_record(
            actor=actor,
            action="cb.create",
            obj=cb,
            after={"code": code, "name": cb.name, "country": country},
        )
    return cb


def cb_acceptance_grant(
    *,
    actor: User,
    cb: CertificationBody,
    programme: Programme,
    accepted_on: dt.date,
    valid_until: dt.date | None = None,
    categories: Iterable[ProcessCategory] = (),
) -> CBAcceptance:
    """Accept a CB for one programme (optionally only part of the process tree)."""
    require_secretariat(actor)
    if valid_until is not None and valid_until < accepted_on:
        raise ValidationFailed(
            "An acceptance cannot end before it starts.",
            code=INVALID_DATE_ORDER,
            field="valid_until",
        )
    with transaction.atomic():
        if CBAcceptance.objects.filter(cb=cb, programme=programme).exists():
            raise RuleViolation(
                f"{cb.code} already has an acceptance for {programme.code}; change that one.",
                code=CB_ACCEPTANCE_EXISTS,
            )
        acc = CBAcceptance.objects.create(
            cb=cb,
            scheme=programme.scheme,
            programme=programme,
            accepted_on=accepted_on,
            valid_until=valid_until,
            status=AcceptanceStatus.ACTIVE,
        )
        cats = list(categories)
        if cats:
            acc.categories.set(cats)
        audit_record(
            actor=actor,
            action="cb.acceptance_grant",
            obj=acc,
            after={
                "cb": cb.code,
                "programme": programme.code,
                "accepted_on": accepted_on,
                "valid_until": valid_until,
                "categories": sorted(c.code for c in cats),
            },
        )
    return acc


def cb_acceptance_transition(
    *, actor: User, acceptance: CBAcceptance, action: str, reason: str
) -> CBAcceptance:
    """The one road for an acceptance's status: the Secretariat suspends, restores or
    withdraws it (``lifecycle.CB_ACCEPTANCE``), with the reason kept in the one audit event."""
    require_secretariat(actor)
    if action not in CB_ACCEPTANCE.actions:
        raise ValidationFailed(
            f"Unknown action on an acceptance '{action}'.", code=INVALID_CHOICE, field="action"
        )
    if not reason.strip():
        raise ValidationFailed(
            "Say why the acceptance changes.", code=INVALID_REASON_REQUIRED, field="reason"
        )
    with transaction.atomic():
        acc = CBAcceptance.objects.select_for_update().get(pk=acceptance.pk)
        before = acc.status
        acc.status = CB_ACCEPTANCE.next_state(before, action)
        acc.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="cb.acceptance_status",
            obj=acc,
            before={"status": before},
            after={"status": acc.status},
            reason=reason,
        )
    return acc


def cb_staff_add(*, actor: User, cb: CertificationBody, user: User, role: str) -> CBStaff:
    """The Secretariat or the CB's own administrator gives a person a role at the CB."""
    if not is_secretariat(actor) and "admin" not in cb_roles(actor, cb):
        raise PermissionDenied(
            f"Only the Secretariat or an administrator of {cb.code} may add staff.",
            code=PERMISSION_CB_ROLE_REQUIRED,
        )
    if role not in CBRole.values:
        raise ValidationFailed(f"Unknown CB role '{role}'.", code=INVALID_CHOICE, field="role")
    with transaction.atomic():
        staff, created = CBStaff.objects.get_or_create(cb=cb, user=user, role=role)
        if not created and staff.active:
            raise RuleViolation(
                f"{user} already holds the role {role} at {cb.code}.", code=CB_STAFF_EXISTS
            )
        if not created:
            staff.active = True
            staff.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="cb.staff_add",
            obj=staff,
            after={"cb": cb.code, "user": user.username, "role": role},
        )
    return staff
