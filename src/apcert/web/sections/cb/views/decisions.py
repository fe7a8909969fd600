"""The decision on an assessment: the file it rests on, the rule check of each decision the
assessment's kind supports, the forms to take them, and a deferral.

Initial assessment: grant or refuse. Surveillance: maintain (suspending is a decision of its
own, on the certificate's page). Re-assessment: renew (there is no refusal of a renewal: a
certificate not renewed before its expiry expires). Scope extension: extend the scope or add
a site, with the new scope lines. Transfer review: transfer. A special visit supports no
decision by itself. The rules are listed above the forms, each passed or failed, from
:mod:`apcert.certificates.decision_checks`; the forms are always shown to a decision maker,
and the service's refusal appears next to the field it names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from apcert.applications.selectors import scope_lines_of
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import assessment_team
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.decision_checks import (
    DECISION_LABELS,
    DECISIONS_BY_KIND,
    RuleCheck,
    decision_check,
    decisions_resting_on,
    deferrals_of,
    findings_on_file,
)
from apcert.certificates.errors import DECISION_BEFORE_REPORT, DECISION_WRONG_ASSESSMENT
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_last_issue, certificates_for_cb_staff
from apcert.certificates.services import (
    NewScopeLine,
    assessment_decision_defer,
    certificate_extend_scope,
    certificate_grant,
    certificate_maintain,
    certificate_refuse,
    certificate_renew,
    certificate_site_add,
    certificate_transfer,
)
from apcert.core.dates import format_date
from apcert.core.errors import DomainError, RuleViolation
from apcert.organizations.selectors import sites_of
from apcert.schemes.selectors import categories, standards_declarable
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.assessments import assessment_for
from apcert.web.sections.cb.views.common import SECTION, cb_page, roles_at, show_refusal
from apcert.web.status_today import with_status_today

#: How many new scope lines the scope decision's form offers at once.
NEW_LINE_ROWS = 3

#: The decisions of a scope extension share one form, which says which of the two it is.
SCOPE_DECISIONS = ("extend_scope", "site_add")


def _form_key(decision: str) -> str:
    return "scope" if decision in SCOPE_DECISIONS else decision


def _offered(a: Assessment) -> tuple[str, ...]:
    return DECISIONS_BY_KIND.get(a.kind, ())


@dataclass
class Panel:
    """One decision on the page: its rule check and its form."""

    key: str
    label: str
    check: RuleCheck
    form: forms.Form
    lines: list[f.NewScopeLineForm] = field(default_factory=list)


def _line_forms(a: Assessment, data: Any = None) -> list[f.NewScopeLineForm]:
    cert = a.certificate
    assert cert is not None
    last = certificate_last_issue(cert)
    certified = {line["site_id"] for line in last.scope_lines} if last else set()
    sites = [
        (s.pk, f"{s.name}, {s.city} ({'on the certificate' if s.pk in certified else 'new'})")
        for s in sites_of(cert.organization).order_by("name", "pk")
    ]
    cats = [(c.code, f"{c.code} {c.name}") for c in categories()]
    stds = [(s.reference, f"{s.reference} {s.title}") for s in standards_declarable()]
    return [
        f.NewScopeLineForm(data, prefix=f"line{i}", categories=cats, sites=sites, standards=stds)
        for i in range(1, NEW_LINE_ROWS + 1)
    ]


def _blank_form(decision: str, a: Assessment) -> tuple[forms.Form, list[f.NewScopeLineForm]]:
    key = _form_key(decision)
    if key == "scope":
        return f.ScopeDecisionForm(prefix=key, initial={"decision": decision}), _line_forms(a)
    form_class = {"grant": f.GrantForm, "refuse": f.RefuseForm}.get(key, f.DecisionForm)
    return form_class(prefix=key), []


def _bound_form(
    decision: str, a: Assessment, data: Any
) -> tuple[forms.Form, list[f.NewScopeLineForm]]:
    key = _form_key(decision)
    if key == "scope":
        return f.ScopeDecisionForm(data, prefix=key), _line_forms(a, data)
    form_class = {"grant": f.GrantForm, "refuse": f.RefuseForm}.get(key, f.DecisionForm)
    return form_class(data, prefix=key), []


def _decided_on(form: forms.Form) -> dt.date | None:
    """The date a submitted form asks for (the rules are checked for it)."""
    if not form.is_bound or not form.is_valid():
        return None
    value = form.cleaned_data.get("decided_on")
    return value if isinstance(value, dt.date) else None


def _subject_context(request: HttpRequest, a: Assessment) -> dict[str, Any]:
    """What the decision is about: the application and its scope, or the certificate and the
    scope of its issue in force (and whether the user may open its page in the CB section)."""
    if a.application is not None and a.certificate_id is None:
        app = a.application
        return {
            "app": app,
            "lines": list(scope_lines_of(app)),
            "programmes": list(app.programmes.order_by("code")),
        }
    cert = a.certificate
    assert cert is not None
    with_status_today([cert])
    visible = certificates_for_cb_staff(current_user(request)).filter(pk=cert.pk).exists()
    return {"cert": cert, "issue": certificate_last_issue(cert), "cert_visible": visible}


def _decision_page(
    request: HttpRequest,
    a: Assessment,
    *,
    bound: tuple[str, forms.Form, list[f.NewScopeLineForm]] | None = None,
    defer_form: forms.Form | None = None,
    refusal: DomainError | None = None,
    on: dt.date | None = None,
    status: int = 200,
) -> HttpResponse:
    user = current_user(request)
    decider = "decision_maker" in roles_at(user, a.cb)
    on = on or (_decided_on(bound[1]) if bound else None) or timezone.localdate()
    decided = decisions_resting_on(a)
    panels: list[Panel] = []
    for decision in _offered(a):
        key = _form_key(decision)
        if any(p.key == key for p in panels):
            continue  # the two scope decisions share one form and one check
        if bound is not None and _form_key(bound[0]) == key:
            form, lines = bound[1], bound[2]
            checked = bound[0]
        else:
            form, lines = _blank_form(decision, a)
            checked = decision
        check = decision_check(actor=user, assessment=a, decision=checked, on=on)
        label = "Extend the scope or add a site" if key == "scope" else DECISION_LABELS[decision]
        panels.append(Panel(key, label, check, form, lines))
    awaited = a.status == AssessmentStatus.REPORT_ISSUED and not decided
    return render(
        request,
        "web/cb/decision.html",
        {
            "a": a,
            "on": on,
            "team": list(assessment_team(a)),
            "findings": findings_on_file(a),
            "decided": decided,
            "deferrals": deferrals_of(a),
            "panels": panels,
            "decider": decider,
            "awaited": awaited,
            "show_forms": decider and not decided,
            "defer_form": defer_form or f.DeferForm(prefix="defer"),
            "refusal": refusal,
            "report_date_refused": refusal is not None and refusal.code == DECISION_BEFORE_REPORT,
            "section": SECTION,
            **_subject_context(request, a),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def decision_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The file, the rule check of each decision the assessment supports, and the forms."""
    a = assessment_for(request, pk)
    if request.method != "POST":
        return _decision_page(request, a)
    offered = _offered(a)
    decision = request.POST.get("decision") or (offered[0] if offered else "")
    if _form_key(decision) == "scope":
        decision = request.POST.get("scope-decision") or "extend_scope"
    if decision not in offered:
        what = AssessmentKind(a.kind).label
        return error_page(
            request,
            RuleViolation(
                f"A {what} supports no such decision"
                + (
                    f"; it supports: {', '.join(DECISION_LABELS[d] for d in offered)}."
                    if offered
                    else ": a special visit informs a decision on the certificate's status, "
                    "taken on its page."
                ),
                code=DECISION_WRONG_ASSESSMENT,
                params={"kind": a.kind, "decision": decision},
            ),
            title="Decision",
        )
    form, lines = _bound_form(decision, a, request.POST)
    valid = form.is_valid() and all(line.is_valid() for line in lines)
    if not valid:
        return _decision_page(request, a, bound=(decision, form, lines), status=400)
    # The rules are shown for the date asked, also after a refusal put on its field.
    on = _decided_on(form)
    try:
        done = TAKE[decision](request, a, form.cleaned_data, lines)
    except DomainError as exc:
        if (page := show_refusal(request, exc, form, None)) is not None:
            return page
        return _decision_page(
            request,
            a,
            bound=(decision, form, lines),
            refusal=exc,
            on=on,
            status=exc.http_status,
        )
    return done


# --- each decision: call its service, say what was done, go to what changed ------------------


def _on(data: dict[str, Any]) -> dt.date:
    value = data.get("decided_on")
    return value if isinstance(value, dt.date) else timezone.localdate()


def _take_grant(
    request: HttpRequest, a: Assessment, data: dict[str, Any], _: Sequence[Any]
) -> HttpResponse:
    assert a.application is not None
    cert = certificate_grant(
        actor=current_user(request),
        application=a.application,
        assessment=a,
        decided_on=data["decided_on"],
        rationale=data["rationale"],
    )
    if cert.status == CertificateStatus.DRAFT:
        messages.success(
            request,
            f"Certification is granted: {cert.number}. The scheme has the Secretariat review "
            "new certificates: it is published once approved.",
        )
    else:
        messages.success(request, f"Certification is granted: {cert.number}.")
    return redirect("web:cb:certificate", pk=cert.pk)


def _take_refuse(
    request: HttpRequest, a: Assessment, data: dict[str, Any], _: Sequence[Any]
) -> HttpResponse:
    assert a.application is not None
    certificate_refuse(
        actor=current_user(request),
        application=a.application,
        assessment=a,
        rationale=data["rationale"],
        decided_on=data["decided_on"],
    )
    messages.success(request, f"Certification is refused on application {a.application_id}.")
    return redirect("web:cb:application", pk=a.application_id)


def _certificate(a: Assessment) -> Certificate:
    assert a.certificate is not None
    return a.certificate


def _take_maintain(
    request: HttpRequest, a: Assessment, data: dict[str, Any], _: Sequence[Any]
) -> HttpResponse:
    cert = _certificate(a)
    certificate_maintain(
        actor=current_user(request),
        certificate=cert,
        assessment=a,
        decided_on=_on(data),
        rationale=data["rationale"],
    )
    messages.success(request, f"Certification is maintained: {cert.number}.")
    return redirect("web:cb:certificate", pk=cert.pk)


def _take_renew(
    request: HttpRequest, a: Assessment, data: dict[str, Any], _: Sequence[Any]
) -> HttpResponse:
    cert = certificate_renew(
        actor=current_user(request),
        certificate=_certificate(a),
        assessment=a,
        decided_on=_on(data),
        rationale=data["rationale"],
    )
    messages.success(
        request, f"{cert.number} is renewed: valid until {format_date(cert.expires_on)}."
    )
    return redirect("web:cb:certificate", pk=cert.pk)


def _new_lines(a: Assessment, lines: Sequence[f.NewScopeLineForm]) -> list[NewScopeLine]:
    """The rows filled in, as the service takes them (each row has parsed its category and
    one of the holder's sites)."""
    sites = {s.pk: s for s in sites_of(_certificate(a).organization)}
    return [
        NewScopeLine(
            category=line.cleaned_data["category"],
            site=sites[int(line.cleaned_data["site"])],
            wording=line.cleaned_data["wording"],
            standards=tuple(line.cleaned_data["standards"]),
        )
        for line in lines
        if not line.empty
    ]


def _take_scope(decision: str) -> Callable[..., HttpResponse]:
    service = certificate_extend_scope if decision == "extend_scope" else certificate_site_add

    def take(
        request: HttpRequest,
        a: Assessment,
        data: dict[str, Any],
        lines: Sequence[f.NewScopeLineForm],
    ) -> HttpResponse:
        cert = service(
            actor=current_user(request),
            certificate=_certificate(a),
            assessment=a,
            new_scope_lines=_new_lines(a, lines),
            decided_on=_on(data),
            rationale=data["rationale"],
        )
        done = "scope is extended" if decision == "extend_scope" else "site is added"
        messages.success(request, f"{cert.number}: the {done} (issue {cert.current_issue_number}).")
        return redirect("web:cb:certificate", pk=cert.pk)

    return take


def _take_transfer(
    request: HttpRequest, a: Assessment, data: dict[str, Any], _: Sequence[Any]
) -> HttpResponse:
    old = _certificate(a)
    new = certificate_transfer(
        actor=current_user(request),
        certificate=old,
        assessment=a,
        decided_on=_on(data),
        rationale=data["rationale"],
    )
    messages.success(
        request, f"{old.number} is transferred to {a.cb.code}: it is now {new.number}."
    )
    return redirect("web:cb:certificate", pk=new.pk)


TAKE: dict[str, Callable[..., HttpResponse]] = {
    "grant": _take_grant,
    "refuse": _take_refuse,
    "maintain": _take_maintain,
    "renew": _take_renew,
    "extend_scope": _take_scope("extend_scope"),
    "site_add": _take_scope("site_add"),
    "transfer": _take_transfer,
}


# --- deferring the decision ------------------------------------------------------------------


@require_POST
@cb_page
def decision_defer_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Defer the decision on a reported assessment, until a day and for a reason."""
    a = assessment_for(request, pk)
    form = f.DeferForm(request.POST, prefix="defer")
    if not form.is_valid():
        return _decision_page(request, a, defer_form=form, status=400)
    try:
        deferral = assessment_decision_defer(
            actor=current_user(request),
            assessment=a,
            reason=form.cleaned_data["reason"],
            until=form.cleaned_data["until"],
        )
    except DomainError as exc:
        awaited = a.status == AssessmentStatus.REPORT_ISSUED and not decisions_resting_on(a)
        if (page := show_refusal(request, exc, form, None, offered=awaited)) is not None:
            return page
        return _decision_page(request, a, defer_form=form, status=exc.http_status)
    messages.success(request, f"The decision is deferred until {format_date(deferral.until)}.")
    return redirect("web:cb:decision", pk=a.pk)
