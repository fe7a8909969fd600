"""Changes that make a new certificate issue: renewal, maintain after surveillance, scope
extension and reduction, sites added, removed, renamed or moved, holder renamed, a standard's
edition updated. Each issue's reason is the service's own, and its "what changed" is read
from the new snapshot against the one before (``_common._new_issue``): there is no re-issue
with a reason of the caller's choosing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from apcert.applications.models import ScopeLine
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_transition
from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import DecisionKind, IssueReason
from apcert.certificates.derived import certificate_changed
from apcert.certificates.errors import (
    CERTIFICATE_EMPTY_SCOPE,
    CERTIFICATE_NOTHING_CHANGED,
    CERTIFICATE_RENEWAL_TOO_LATE,
    CERTIFICATE_SCOPE_LINE_EXISTS,
    CERTIFICATE_SCOPE_LINE_NOT_FOUND,
    CERTIFICATE_SCOPE_LINE_WITHOUT_STANDARD,
    CERTIFICATE_SITE_ALREADY_ON_CERTIFICATE,
    CERTIFICATE_SITE_NOT_ON_CERTIFICATE,
    CERTIFICATE_SITE_NOT_OWN,
    CERTIFICATE_STANDARD_NO_CURRENT_EDITION,
    CERTIFICATE_STANDARD_NOT_DECLARED,
    DECISION_ASSESSMENT_ALREADY_USED,
    DECISION_WRONG_ASSESSMENT,
)
from apcert.certificates.models import (
    Certificate,
    Decision,
)
from apcert.certificates.selectors import (
    decision_maker_problems,
    findings_problems,
    followup_assessment_problems,
    new_scope_problems,
    report_problems,
    scope_keys,
)
from apcert.core.dates import format_date, today
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    RuleViolation,
    ValidationFailed,
)
from apcert.organizations.models import Site
from apcert.schemes.models import ProcessCategory, Standard
from apcert.schemes.selectors import (
    scheme_rules,
    standard_current_edition,
    standard_problem,
    standard_resolve,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User
from apcert.certificates.services._common import (
    _check_decision_date,
    _last_issue,
    _lock,
    _new_issue,
    _programme_ids,
    _raise_first,
    _record_calendar,
    _require_current,
    _state,
    _validity_end,
)
from apcert.certificates.services.transition import (
    certificate_transition,
    certificate_transition_check,
)


def _close_assessment(a: Assessment, *, actor: User) -> None:
    """The decision closes the reported assessment it rests on (recorded in its event)."""
    if a.status == AssessmentStatus.REPORT_ISSUED:
        assessment_transition(actor=actor, assessment=a, action="close", within_decision=True)


def certificate_renew(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    rationale: str = "",
    decided_on: dt.date | None = None,
) -> Certificate:
    """Renew after a re-assessment, decided before expiry: same number, a new issue, and a
    new expiry counted from the old one."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    decided_on = decided_on or today()
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(cert)
        certificate_transition_check(cert, "renew")
        if a.certificate_id != cert.pk or a.kind != AssessmentKind.REASSESSMENT:
            raise RuleViolation(
                "A renewal rests on a re-assessment of this certificate.",
                code=DECISION_WRONG_ASSESSMENT,
            )
        if decided_on > cert.expires_on:
            raise RuleViolation(
                f"{cert.number} expired on {format_date(cert.expires_on)}; a renewal must be "
                "decided before expiry. The holder must apply again.",
                code=CERTIFICATE_RENEWAL_TOO_LATE,
            )
        _check_decision_date(cert, decided_on)
        if Decision.objects.filter(assessment=a).exists():
            raise RuleViolation(
                "This re-assessment has already supported a decision; a new renewal needs a "
                "new re-assessment.",
                code=DECISION_ASSESSMENT_ALREADY_USED,
            )
        _raise_first(
            decision_maker_problems(assessment=a, decided_by=actor)
            + report_problems(assessment=a, decided_on=decided_on)
            + findings_problems(assessment=a, decided_on=decided_on, initial_six_month_rule=False)
        )
        rules = scheme_rules(cert.scheme)
        cert.expires_on = _validity_end(
            cert.expires_on + dt.timedelta(days=1), rules.validity_months
        )
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=DecisionKind.RENEW,
            certificate=cert,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        last = _last_issue(cert)
        issue = _new_issue(
            cert,
            on=decided_on,
            reason=IssueReason.RENEWAL,
            decision=decision,
            scope_lines=last.scope_lines,
            programmes=last.programmes,
        )
        _close_assessment(a, actor=actor)
        certificate_transition(
            actor=actor,
            certificate=cert,
            action="renew",
            decision=decision,
            update_fields=["expires_on", "current_issue_number"],
            before=before,
            after={
                "decision": decision.pk,
                "issue_id": issue.pk,
                "decided_on": decided_on,
                "scope_lines": issue.scope_lines,
            },
            reason=rationale,
        )
    return cert


# --- decisions that follow a visit, and re-issues -------------------------


@dataclass(frozen=True)
class NewScopeLine:
    """A scope line to add to a certificate: a process category (by code) at a site of the
    holder, the wording as it will read on the certificate, and the declared standards as
    ``DESIGNATION:EDITION`` references."""

    category: str
    site: Site
    wording: str
    standards: tuple[str, ...]


@dataclass(frozen=True)
class _ResolvedLine:
    line: ScopeLine  # unsaved: carries the category and site for the acceptance check
    standards: list[Standard]
    snapshot: dict[str, Any]


def _resolve_new_lines(new_scope_lines: Sequence[NewScopeLine]) -> list[_ResolvedLine]:
    """Turn the input into snapshot-shaped lines; malformed input is refused here, before
    the transaction (the rules on content are checked inside it)."""
    if not new_scope_lines:
        raise ValidationFailed(
            "Give at least one scope line to add.",
            code=INVALID_REQUIRED,
            field="new_scope_lines",
        )
    out: list[_ResolvedLine] = []
    for new in new_scope_lines:
        wording = (new.wording or "").strip()
        if not wording:
            raise ValidationFailed(
                "Each scope line needs its wording.", code=INVALID_REQUIRED, field="wording"
            )
        if not new.standards:
            raise ValidationFailed(
                f"Scope line {new.category} at {new.site.name} declares no standard.",
                code=CERTIFICATE_SCOPE_LINE_WITHOUT_STANDARD,
                field="standards",
            )
        category = ProcessCategory.objects.filter(code=new.category).first()
        if category is None:
            raise ValidationFailed(
                f"There is no process category with the code {new.category}.",
                code=INVALID_CHOICE,
                field="category",
            )
        standards = [standard_resolve(ref) for ref in new.standards]
        line = ScopeLine(category=category, site=new.site, wording=wording)
        out.append(
            _ResolvedLine(
                line=line,
                standards=standards,
                snapshot={
                    "category": category.code,
                    "category_name": category.name,
                    "site_id": new.site.pk,
                    "site_name": new.site.name,
                    "wording": wording,
                    "standards": sorted({s.reference for s in standards}),
                },
            )
        )
    return out


def _write_reissue(
    cert: Certificate,
    *,
    actor: User,
    action: str,
    decision_kind: str,
    issue_reason: str,
    rationale: str,
    decided_on: dt.date,
    lines: list[dict[str, Any]],
    programmes: list[dict[str, str]],
    before: dict[str, Any],
    assessment: Assessment | None = None,
    extra: dict[str, Any] | None = None,
) -> Certificate:
    """The records every re-issue writes: the decision, the new issue, the certificate's
    issue number, the assessment closed, and the one audit event."""
    decision = Decision.objects.create(
        cb=cert.cb,
        kind=decision_kind,
        certificate=cert,
        assessment=assessment,
        decided_by=actor,
        decided_on=decided_on,
        rationale=rationale,
    )
    issue = _new_issue(
        cert,
        on=decided_on,
        reason=issue_reason,
        decision=decision,
        scope_lines=lines,
        programmes=programmes,
    )
    if assessment is not None:
        _close_assessment(assessment, actor=actor)
    certificate_transition(
        actor=actor,
        certificate=cert,
        action="reissue",
        decision=decision,
        update_fields=["current_issue_number"],
        before=before,
        audit_action=f"certificate.{action}",
        after={
            "decision": decision.pk,
            "reason": issue_reason,
            "issue_id": issue.pk,
            "decided_on": decided_on,
            "assessment": assessment.pk if assessment is not None else None,
            "scope_lines": lines,
            **(extra or {}),
        },
        reason=rationale or issue.change_summary,
    )
    return cert


def certificate_maintain(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    decided_on: dt.date,
    rationale: str = "",
) -> Decision:
    """Maintain certification after a surveillance visit: a decision, no new issue, the
    status unchanged. Open majors or minors without an accepted plan refuse it; suspending
    the certificate is a separate decision (:func:`certificate_suspend`)."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        _require_current(cert, "certification is maintained")
        _check_decision_date(cert, decided_on)
        _raise_first(
            followup_assessment_problems(
                certificate=cert,
                assessment=a,
                kind=AssessmentKind.SURVEILLANCE,
                cb_id=cert.cb_id,
                decided_by=actor,
                decided_on=decided_on,
            )
        )
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=DecisionKind.MAINTAIN,
            certificate=cert,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        _close_assessment(a, actor=actor)
        # No status change: the certificate's derived data follows the closed visit.
        certificate_changed(cert)
        audit_record(
            actor=actor,
            action="certificate.maintain",
            obj=cert,
            before=_state(cert),
            after={
                **_state(cert),
                "decision": decision.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
            },
            reason=rationale,
        )
    return decision


def _add_lines(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str,
    new_sites: bool,
) -> Certificate:
    """Scope extension (``new_sites`` False: every line at a site already certified) or a
    site added (``new_sites`` True: every line at a site not yet on the certificate)."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    resolved = _resolve_new_lines(new_scope_lines)
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(cert)
        certificate_transition_check(cert, "reissue")
        _require_current(cert, "the scope is extended")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        # The visit that covers the new lines: a scope-extension assessment of this
        # certificate by its CB, reported, not yet used, with its findings resolved.
        problems = followup_assessment_problems(
            certificate=cert,
            assessment=a,
            kind=AssessmentKind.SCOPE_EXTENSION,
            cb_id=cert.cb_id,
            decided_by=actor,
            decided_on=decided_on,
        )
        own_sites = set(
            Site.objects.filter(organization=cert.organization).values_list("pk", flat=True)
        )
        certified_sites = {line["site_id"] for line in last.scope_lines}
        existing = scope_keys(last.scope_lines)
        seen: set[tuple[str, int]] = set()
        for r in resolved:
            key = (r.snapshot["category"], r.snapshot["site_id"])
            where = f"{key[0]} at {r.snapshot['site_name']}"
            if key[1] not in own_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is a site of another organization.",
                        code=CERTIFICATE_SITE_NOT_OWN,
                    )
                )
            elif key in existing or key in seen:
                problems.append(
                    RuleViolation(
                        f"{where} is already in the scope.",
                        code=CERTIFICATE_SCOPE_LINE_EXISTS,
                        params={"category": key[0], "site_id": key[1]},
                    )
                )
            elif new_sites and key[1] in certified_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is already on the certificate: extend the "
                        "scope instead.",
                        code=CERTIFICATE_SITE_ALREADY_ON_CERTIFICATE,
                        params={"site_id": key[1]},
                    )
                )
            elif not new_sites and key[1] not in certified_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is not on the certificate yet: add the site "
                        "instead.",
                        code=CERTIFICATE_SITE_NOT_ON_CERTIFICATE,
                        params={"site_id": key[1]},
                    )
                )
            seen.add(key)
        problems += new_scope_problems(
            cb_id=cert.cb_id,
            programme_ids=_programme_ids(last),
            scope_lines=[r.line for r in resolved],
            standards=[s for r in resolved for s in r.standards],
            on=decided_on,
        )
        _raise_first(problems)
        added = [r.snapshot for r in resolved]
        return _write_reissue(
            cert,
            actor=actor,
            action="site_add" if new_sites else "extend_scope",
            decision_kind=DecisionKind.EXTEND_SCOPE,
            issue_reason=IssueReason.SITE_CHANGE if new_sites else IssueReason.SCOPE_EXTENSION,
            rationale=rationale,
            decided_on=decided_on,
            lines=[*last.scope_lines, *added],
            programmes=last.programmes,
            before=before,
            assessment=a,
            extra={"added": added},
        )


def certificate_extend_scope(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Extend the scope at sites already certified, after a scope-extension assessment:
    a new issue (reason scope_extension) and an extend-scope decision. The new lines must be
    inside the CB's acceptance and declare current standards, as at grant."""
    return _add_lines(
        actor=actor,
        certificate=certificate,
        assessment=assessment,
        new_scope_lines=new_scope_lines,
        decided_on=decided_on,
        rationale=rationale,
        new_sites=False,
    )


def certificate_site_add(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Add a site: its scope lines need a scope-extension assessment like any new line.
    A new issue (reason site_change) and an extend-scope decision."""
    return _add_lines(
        actor=actor,
        certificate=certificate,
        assessment=assessment,
        new_scope_lines=new_scope_lines,
        decided_on=decided_on,
        rationale=rationale,
        new_sites=True,
    )


def _remove_lines(
    *,
    actor: User,
    certificate: Certificate,
    decided_on: dt.date,
    reason: str,
    pick: Any,
    action: str,
    issue_reason: str,
) -> Certificate:
    require_cb_role(actor, certificate.cb, "decision_maker")
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the scope is reduced, for the record.",
            code=INVALID_REASON_REQUIRED,
            field="reason",
        )
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        before = _state(cert)
        # Allowed while suspended: the scheme's alternative to withdrawal (lifecycle.py).
        certificate_transition_check(cert, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        removed, kept = pick(last.scope_lines)
        if not kept:
            raise RuleViolation(
                "A certificate keeps at least one scope line; withdraw it instead.",
                code=CERTIFICATE_EMPTY_SCOPE,
            )
        return _write_reissue(
            cert,
            actor=actor,
            action=action,
            decision_kind=DecisionKind.REDUCE_SCOPE,
            issue_reason=issue_reason,
            rationale=reason,
            decided_on=decided_on,
            lines=kept,
            programmes=last.programmes,
            before=before,
            extra={"removed": removed},
        )


def certificate_reduce_scope(
    *,
    actor: User,
    certificate: Certificate,
    remove: Sequence[tuple[str, int]],
    reason: str,
    decided_on: dt.date,
) -> Certificate:
    """Reduce the scope by a decision with its reason: remove the given (process category
    code, site id) lines. A new issue (reason scope_reduction); allowed while suspended."""
    wanted = {(code, site_id) for code, site_id in remove}
    if not wanted:
        raise ValidationFailed(
            "Name at least one scope line to remove.", code=INVALID_REQUIRED, field="remove"
        )

    def pick(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        unknown = wanted - scope_keys(lines)
        if unknown:
            raise RuleViolation(
                "Not in the certificate's scope: "
                + "; ".join(f"{c} at site {s}" for c, s in sorted(unknown))
                + ".",
                code=CERTIFICATE_SCOPE_LINE_NOT_FOUND,
                params={"lines": sorted(unknown)},
            )
        removed = [x for x in lines if (x["category"], x["site_id"]) in wanted]
        kept = [x for x in lines if (x["category"], x["site_id"]) not in wanted]
        return removed, kept

    return _remove_lines(
        actor=actor,
        certificate=certificate,
        decided_on=decided_on,
        reason=reason,
        pick=pick,
        action="reduce_scope",
        issue_reason=IssueReason.SCOPE_REDUCTION,
    )


def certificate_site_remove(
    *, actor: User, certificate: Certificate, site: Site, reason: str, decided_on: dt.date
) -> Certificate:
    """Remove a site from the certificate with all its scope lines: a new issue (reason
    site_change) and a reduce-scope decision; allowed while suspended."""

    def pick(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        removed = [x for x in lines if x["site_id"] == site.pk]
        if not removed:
            raise RuleViolation(
                f"{site.name} is not on the certificate.",
                code=CERTIFICATE_SITE_NOT_ON_CERTIFICATE,
                params={"site_id": site.pk},
            )
        return removed, [x for x in lines if x["site_id"] != site.pk]

    return _remove_lines(
        actor=actor,
        certificate=certificate,
        decided_on=decided_on,
        reason=reason,
        pick=pick,
        action="site_remove",
        issue_reason=IssueReason.SITE_CHANGE,
    )


def certificate_holder_renamed(
    *, actor: User, certificate: Certificate, decided_on: dt.date, rationale: str = ""
) -> Certificate:
    """Re-issue after the holder was renamed (organizations.services.organization_rename):
    a new issue (reason holder_renamed) with the new name, scope and sites unchanged."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        before = _state(cert)
        certificate_transition_check(cert, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        old_name = last.holder.get("name", "")
        new_name = cert.organization.legal_name
        if old_name == new_name:
            raise RuleViolation(
                f"Issue {last.issue_number} already names the holder {new_name}.",
                code=CERTIFICATE_NOTHING_CHANGED,
            )
        return _write_reissue(
            cert,
            actor=actor,
            action="holder_renamed",
            decision_kind=DecisionKind.REISSUE,
            issue_reason=IssueReason.HOLDER_RENAMED,
            rationale=rationale,
            decided_on=decided_on,
            lines=last.scope_lines,
            programmes=last.programmes,
            before={**before, "holder": old_name},
            extra={"holder": new_name},
        )


def _site_changed(
    *,
    actor: User,
    certificate: Certificate,
    site: Site,
    decided_on: dt.date,
    rationale: str,
    fields: tuple[str, ...],
    action: str,
) -> Certificate:
    """Re-issue after the holder changed a certified site's ``fields`` (its records say so:
    organizations.services.site_rename, site_move): a new issue (reason site_change) with
    the site as it is now; the scope is unchanged."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        before = _state(cert)
        certificate_transition_check(cert, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        listed = next((s for s in last.sites if s["id"] == site.pk), None)
        if listed is None:
            raise RuleViolation(
                f"{site.name} is not on the certificate.",
                code=CERTIFICATE_SITE_NOT_ON_CERTIFICATE,
                params={"site_id": site.pk},
            )
        live = Site.objects.get(pk=site.pk)
        now = {name: getattr(live, name) for name in fields}
        was = {name: listed.get(name) for name in fields}
        if now == was:
            raise RuleViolation(
                f"Issue {last.issue_number} already shows {live.name} as it is.",
                code=CERTIFICATE_NOTHING_CHANGED,
            )
        # The scope lines carry the site's name as the certificate prints it.
        lines = [
            {**line, "site_name": live.name} if line["site_id"] == live.pk else line
            for line in last.scope_lines
        ]
        return _write_reissue(
            cert,
            actor=actor,
            action=action,
            decision_kind=DecisionKind.REISSUE,
            issue_reason=IssueReason.SITE_CHANGE,
            rationale=rationale,
            decided_on=decided_on,
            lines=lines,
            programmes=last.programmes,
            before={**before, "site": was},
            extra={"site_id": live.pk, "site": now},
        )


def certificate_site_renamed(
    *,
    actor: User,
    certificate: Certificate,
    site: Site,
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Re-issue after a certified site was renamed (organizations.services.site_rename):
    a new issue (reason site_change) naming the site by its new name."""
    return _site_changed(
        actor=actor,
        certificate=certificate,
        site=site,
        decided_on=decided_on,
        rationale=rationale,
        fields=("name",),
        action="site_renamed",
    )


def certificate_site_moved(
    *,
    actor: User,
    certificate: Certificate,
    site: Site,
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Re-issue after a certified site's address changed (organizations.services.site_move):
    a new issue (reason site_change) with the new address."""
    return _site_changed(
        actor=actor,
        certificate=certificate,
        site=site,
        decided_on=decided_on,
        rationale=rationale,
        fields=("address", "city", "country"),
        action="site_moved",
    )


def certificate_standard_update(
    *,
    actor: User,
    certificate: Certificate,
    standard: Standard,
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Replace a declared edition by the catalogue's current edition of the same standard on
    every scope line that declares it: a new issue (reason standard_updated). The current
    edition must be one that may be declared on the decision's date, as at grant."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        _record_calendar(cert, decided_on)
        before = _state(cert)
        certificate_transition_check(cert, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        old_ref = standard.reference
        if not any(old_ref in line["standards"] for line in last.scope_lines):
            raise RuleViolation(
                f"Issue {last.issue_number} declares no {old_ref}.",
                code=CERTIFICATE_STANDARD_NOT_DECLARED,
                params={"standard": old_ref},
            )
        current = standard_current_edition(standard)
        if current is None:
            raise RuleViolation(
                f"{old_ref} has no current edition (the standard was withdrawn): reduce the "
                "scope, or extend it with another standard.",
                code=CERTIFICATE_STANDARD_NO_CURRENT_EDITION,
                params={"standard": old_ref},
            )
        if current.pk == standard.pk:
            raise RuleViolation(
                f"{old_ref} is the current edition already.",
                code=CERTIFICATE_NOTHING_CHANGED,
                params={"standard": old_ref},
            )
        problem = standard_problem(current, decided_on)
        if problem is not None:
            raise problem
        new_ref = current.reference
        lines = [
            {
                **line,
                "standards": sorted({new_ref if r == old_ref else r for r in line["standards"]}),
            }
            if old_ref in line["standards"]
            else line
            for line in last.scope_lines
        ]
        return _write_reissue(
            cert,
            actor=actor,
            action="standard_update",
            decision_kind=DecisionKind.REISSUE,
            issue_reason=IssueReason.STANDARD_UPDATED,
            rationale=rationale,
            decided_on=decided_on,
            lines=lines,
            programmes=last.programmes,
            before={**before, "standard": old_ref},
            extra={"standard": new_ref},
        )
