"""Applications: drafted and submitted by the organization, accepted or rejected by the CB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apcert.applications.choices import ApplicationStatus
from apcert.applications.errors import (
    APPLICATION_ALREADY_DECIDED,
    APPLICATION_DUPLICATE_SCOPE_LINE,
    APPLICATION_NOT_DRAFT,
    APPLICATION_SITE_NOT_OWN,
)
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application, ScopeLine
from apcert.applications.selectors import application_problems
from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.core.errors import (
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    RuleViolation,
    ValidationFailed,
)
from apcert.organizations.permissions import require_org_member
from apcert.schemes.models import Standard
from apcert.schemes.selectors import standard_resolve

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.bodies.models import CertificationBody
    from apcert.organizations.models import Organization, Site
    from apcert.schemes.models import ProcessCategory, Programme, Scheme


def _lock(application: Application) -> Application:
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("cb", "scheme", "organization")
        .get(pk=application.pk)
    )


def application_create(
    *,
    actor: User,
    organization: Organization,
    cb: CertificationBody,
    scheme: Scheme,
    programmes: Iterable[Programme],
    design_claimed: bool = False,
    requests_component_qualification: bool = False,
) -> Application:
    require_org_member(actor, organization)
    programmes = list(programmes)
    with transaction.atomic():
        app = Application.objects.create(
            organization=organization,
            cb=cb,
            scheme=scheme,
            design_claimed=design_claimed,
            requests_component_qualification=requests_component_qualification,
        )
        app.programmes.set(programmes)
        audit_record(
            actor=actor,
            action="application.create",
            obj=app,
            after={
                "organization": organization.pk,
                "cb": cb.code,
                "scheme": scheme.code,
                "programmes": sorted(p.code for p in programmes),
                "design_claimed": design_claimed,
                "requests_component_qualification": requests_component_qualification,
            },
        )
    return app


def scope_line_add(
    *,
    actor: User,
    application: Application,
    category: ProcessCategory,
    site: Site,
    wording: str,
    standards: Sequence[Standard | str],
) -> ScopeLine:
    """Add a line to a draft application's scope. Standards may be catalogue entries or
    ``DESIGNATION:EDITION`` references."""
    require_org_member(actor, application.organization)
    wording = (wording or "").strip()
    if not wording:
        raise ValidationFailed(
            "Write the scope wording as it should read on the certificate.",
            code=INVALID_REQUIRED,
            field="wording",
        )
    if site.organization_id != application.organization_id:
        raise RuleViolation(
            "That site belongs to another organization.",
            code=APPLICATION_SITE_NOT_OWN,
            field="site",
        )
    resolved = [s if isinstance(s, Standard) else standard_resolve(s) for s in standards]
    with transaction.atomic():
        app = _lock(application)
        if app.status != ApplicationStatus.DRAFT:
            raise RuleViolation(
                "Only a draft application's scope can be changed.", code=APPLICATION_NOT_DRAFT
            )
        if ScopeLine.objects.filter(application=app, category=category, site=site).exists():
            raise RuleViolation(
                f"The scope already has {category.code} at {site.name}.",
                code=APPLICATION_DUPLICATE_SCOPE_LINE,
            )
        line = ScopeLine.objects.create(
            application=app, category=category, site=site, wording=wording
        )
        line.standards.set(resolved)
        audit_record(
            actor=actor,
            action="application.scope_line_add",
            obj=app,
            after={
                "scope_line": line.pk,
                "category": category.code,
                "site": site.pk,
                "wording": wording,
                "standards": sorted(s.reference for s in resolved),
            },
        )
    return line


def _scope_line_content(line: ScopeLine) -> dict[str, object]:
    """A scope line as its audit events record it (as ``application.scope_line_add``)."""
    return {
        "category": line.category.code,
        "site": line.site_id,
        "wording": line.wording,
        "standards": sorted(s.reference for s in line.standards.all()),
    }


def _lock_draft_of(line: ScopeLine) -> tuple[Application, ScopeLine]:
    """Lock the line's application, then the line; refuse unless the application is a
    draft, as for adding a line."""
    app = _lock(line.application)
    if app.status != ApplicationStatus.DRAFT:
        raise RuleViolation(
            "Only a draft application's scope can be changed.", code=APPLICATION_NOT_DRAFT
        )
    locked = (
        ScopeLine.objects.select_for_update(of=("self",))
        .select_related("category", "site")
        .get(pk=line.pk)
    )
    return app, locked


def scope_line_update(
    *,
    actor: User,
    scope_line: ScopeLine,
    category: ProcessCategory,
    site: Site,
    wording: str,
    standards: Sequence[Standard | str],
) -> ScopeLine:
    """Change a line of a draft application's scope, with the checks of
    :func:`scope_line_add`. One audit event ``application.scope_line_update`` on the
    application names the line and the fields changed, before and after; a change that
    changes nothing writes nothing."""
    line = ScopeLine.objects.select_related("application__organization").get(pk=scope_line.pk)
    require_org_member(actor, line.application.organization)
    wording = (wording or "").strip()
    if not wording:
        raise ValidationFailed(
            "Write the scope wording as it should read on the certificate.",
            code=INVALID_REQUIRED,
            field="wording",
        )
    if site.organization_id != line.application.organization_id:
        raise RuleViolation(
            "That site belongs to another organization.",
            code=APPLICATION_SITE_NOT_OWN,
            field="site",
        )
    resolved = [s if isinstance(s, Standard) else standard_resolve(s) for s in standards]
    with transaction.atomic():
        app, line = _lock_draft_of(line)
        duplicate = ScopeLine.objects.filter(application=app, category=category, site=site)
        if duplicate.exclude(pk=line.pk).exists():
            raise RuleViolation(
                f"The scope already has {category.code} at {site.name}.",
                code=APPLICATION_DUPLICATE_SCOPE_LINE,
            )
        was = _scope_line_content(line)
        line.category, line.site, line.wording = category, site, wording
        now = {
            "category": category.code,
            "site": site.pk,
            "wording": wording,
            "standards": sorted(s.reference for s in resolved),
        }
        changed = [name for name in now if now[name] != was[name]]
        if not changed:
            return line
        line.save(update_fields=["category", "site", "wording"])
        line.standards.set(resolved)
        audit_record(
            actor=actor,
            action="application.scope_line_update",
            obj=app,
            before={"scope_line": line.pk, **{name: was[name] for name in changed}},
            after={"scope_line": line.pk, **{name: now[name] for name in changed}},
        )
    return line


def scope_line_remove(*, actor: User, scope_line: ScopeLine) -> None:
    """Take a line out of a draft application's scope. The line is deleted (a draft's scope
    is not yet a record of the scheme); its content stays in the audit event
    ``application.scope_line_remove`` on the application."""
    line = ScopeLine.objects.select_related("application__organization").get(pk=scope_line.pk)
    require_org_member(actor, line.application.organization)
    with transaction.atomic():
        app, line = _lock_draft_of(line)
        was = {"scope_line": line.pk, **_scope_line_content(line)}
        line.delete()
        audit_record(
            actor=actor, action="application.scope_line_remove", obj=app, before=was, after=None
        )


def application_transition(
    *,
    actor: User,
    application: Application,
    action: str,
    reason: str = "",
    **changes: object,
) -> Application:
    """The one road for an application's status: apply ``action`` of
    ``lifecycle.APPLICATION`` to ``application``, the row the caller has locked in its
    transaction, save ``changes`` with it and write the one audit event
    ``application.<action>``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("application_transition() runs inside the service's transaction")
    before = application.status
    application.status = APPLICATION.next_state(before, action)
    for k, v in changes.items():
        setattr(application, k, v)
    application.save(update_fields=["status", *changes.keys()])
    audit_record(
        actor=actor,
        action=f"application.{action}",
        obj=application,
        before={"status": before},
        after={"status": application.status},
        reason=reason,
    )
    return application


def application_submit(
    *, actor: User, application: Application, on: dt.date | None = None
) -> Application:
    """Submit to the CB. Every rule of the scheme is checked; the first that fails is
    raised, with the others listed in its ``params['also']``."""
    require_org_member(actor, application.organization)
    on = on or timezone.localdate()
    with transaction.atomic():
        app = _lock(application)
        APPLICATION.next_state(app.status, "submit")  # refused before the rules are read
        problems = application_problems(app, on)
        if problems:
            first = problems[0]
            first.params["also"] = [p.code for p in problems[1:]]
            raise first
        application_transition(
            actor=actor, application=app, action="submit", submitted_at=timezone.now()
        )
    return app


def _cb_transition(
    *, actor: User, application: Application, action: str, reason: str
) -> Application:
    require_cb_role(actor, application.cb, "scheme_manager")
    with transaction.atomic():
        app = _lock(application)
        changes: dict[str, object] = {"status_reason": reason}
        if action == "reject":
            changes["closed_at"] = timezone.now()
        application_transition(
            actor=actor, application=app, action=action, reason=reason, **changes
        )
    return app


def application_accept(*, actor: User, application: Application, reason: str = "") -> Application:
    return _cb_transition(actor=actor, application=application, action="accept", reason=reason)


def application_reject(*, actor: User, application: Application, reason: str) -> Application:
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the application is rejected.", code=INVALID_REASON_REQUIRED, field="reason"
        )
    return _cb_transition(actor=actor, application=application, action="reject", reason=reason)


def application_withdraw(*, actor: User, application: Application, reason: str = "") -> Application:
    require_org_member(actor, application.organization)
    with transaction.atomic():
        app = _lock(application)
        APPLICATION.next_state(app.status, "withdraw")  # refused before the decision check
        # Withdrawal is open until a decision (lifecycle.APPLICATION); after a grant or a
        # refusal the holder cancels the certificate instead. The decisions are read through
        # their foreign key to the application: the certificates app sits above this one.
        if app.decision_set.exists():
            raise RuleViolation(
                "A certification decision has been taken on this application; it can no longer "
                "be withdrawn. To end a certificate, ask the CB to cancel it.",
                code=APPLICATION_ALREADY_DECIDED,
            )
        application_transition(
            actor=actor,
            application=app,
            action="withdraw",
            reason=reason,
            status_reason=reason,
            closed_at=timezone.now(),
        )
    return app
