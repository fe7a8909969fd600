"""Assessments of a certificate: plan a surveillance, re-assessment, special visit or scope
extension from the certificate's page, and take over another CB's certificate with a
transfer review.

What may be planned is asked of :mod:`apcert.certificates.planning` (the certificate's
status on the day, through the lifecycle table, and what is already planned); a page that
cannot offer a kind says which rule stops it. The service plans.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apcert.accounts.models import User
from apcert.accounts.selectors import user_roles
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_plan
from apcert.bodies.models import CertificationBody
from apcert.bodies.selectors import active_staff_of
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.errors import VISIT_CERTIFICATE_ENDED as ENDED
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.planning import (
    FOLLOWUP_KINDS,
    VisitOption,
    certificate_by_number,
    followups_of,
    transfer_reviews_of,
    transferred_to,
    visit_options,
    visit_plan_problems,
)
from apcert.certificates.selectors import certificate_last_issue, certificates_for_cb_staff
from apcert.core.errors import (
    PERMISSION_CB_ROLE_REQUIRED,
    DomainError,
    PermissionDenied,
    RuleViolation,
)
from apcert.cycle.programme import PlannedVisit, visits_for
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.applications import staff_choices
from apcert.web.sections.cb.views.common import SECTION, cb_page, cb_section, roles_at, show_refusal
from apcert.web.status_today import with_status_today

#: The statuses whose audit programme still runs (the visits due are shown for them).
_LIVE = (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED)


def _manager_only(cb: CertificationBody, title: str) -> PermissionDenied:
    return PermissionDenied(
        f"Only a scheme manager of {cb.code} plans assessments.",
        code=PERMISSION_CB_ROLE_REQUIRED,
        params={"cb": cb.code, "roles": ["scheme_manager"]},
    )


def _programme(cert: Certificate) -> list[PlannedVisit]:
    return visits_for(cert) if cert.status in _LIVE else []


def _next_visit(visits: list[PlannedVisit], kind: str) -> PlannedVisit | None:
    return next((v for v in visits if v.kind == kind and not v.done), None)


def _plan(
    request: HttpRequest,
    form: f.VisitPlanForm,
    *,
    kind: str,
    certificate: Certificate,
    cb: CertificationBody,
) -> Assessment:
    """Call the service with the form's dates and team (the form is valid)."""
    members = {s.user_id: s.user for s in active_staff_of(cb)}
    return assessment_plan(
        actor=current_user(request),
        kind=kind,
        certificate=certificate,
        start_date=form.cleaned_data["start_date"],
        end_date=form.cleaned_data["end_date"],
        team=[(members[uid], role) for uid, role in form.team_roles()],
        cb=cb if cb.pk != certificate.cb_id else None,
    )


def _initial_dates(visit: PlannedVisit | None, today: dt.date) -> dict[str, dt.date]:
    """The form's first day proposed from the programme: the visit's due date, or today
    when it is past."""
    if visit is None:
        return {}
    start = max(visit.due_date, today)
    return {"start_date": start, "end_date": start + dt.timedelta(days=1)}


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def certificate_plan_view(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Plan a surveillance, re-assessment, special visit or scope extension of one of the
    CB's certificates, with its dates and team; the rules of the kind are on the page."""
    user = current_user(request)
    cert = get_object_or_404(certificates_for_cb_staff(user), pk=pk)
    if kind not in FOLLOWUP_KINDS:
        raise Http404("No such kind of assessment is planned on a certificate.")
    label = AssessmentKind(kind).label
    title = f"Plan a {label}"
    if "scheme_manager" not in roles_at(user, cert.cb):
        return error_page(request, _manager_only(cert.cb, title), title=title)
    today = timezone.localdate()
    problems = visit_plan_problems(certificate=cert, kind=kind, cb=cert.cb, on=today)
    visits = _programme(cert)
    visit = _next_visit(visits, kind)
    staff, assessors = staff_choices(cert.cb)
    form = f.VisitPlanForm(
        request.POST if request.method == "POST" else None,
        staff=staff,
        assessors=assessors,
        initial=_initial_dates(visit, today),
    )
    status = 200
    if request.method == "POST":
        if problems:
            return error_page(request, problems[0], title=title)
        status = 400
        if form.is_valid():
            try:
                a = _plan(request, form, kind=kind, certificate=cert, cb=cert.cb)
            except DomainError as exc:
                if (page := show_refusal(request, exc, form, None)) is not None:
                    return page
                status = exc.http_status
            else:
                messages.success(request, f"The {label} of {cert.number} is planned.")
                return redirect("web:cb:assessment", pk=a.pk)
    with_status_today([cert])
    return render(
        request,
        "web/cb/visit_plan.html",
        {
            "cert": cert,
            "kind": kind,
            "label": label,
            "problems": problems,
            "visit": visit,
            "form": form,
            "section": SECTION,
        },
        status=status,
    )


# --- the certificate page's assessments ------------------------------------------------------


@dataclass(frozen=True)
class CertificateFollowups:
    """What the CB's certificate page shows of its assessments: the programme of the cycle,
    the CB's assessments of it, what may be planned (each with what stops it), and a
    transfer to or from another certification body."""

    visits: list[PlannedVisit] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    options: list[VisitOption] = field(default_factory=list)
    #: The one rule that stops every kind (the certificate has ended), said once.
    nothing_more: RuleViolation | None = None
    may_plan: bool = False
    transfer_reviews: list[Assessment] = field(default_factory=list)
    transferred_to: Certificate | None = None
    transferred_from: Certificate | None = None
    today: dt.date | None = None


def certificate_followups(request: HttpRequest, cert: Certificate) -> CertificateFollowups:
    """The assessments part of the CB's certificate page (``web/cb/_certificate_assessments``)
    for the signed-in user."""
    user = current_user(request)
    today = timezone.localdate()
    successor = transferred_to(cert) if cert.status == CertificateStatus.WITHDRAWN else None
    options = visit_options(certificate=cert, cb=cert.cb, on=today)
    ended = [o.problems[0] for o in options if o.problems and o.problems[0].code == ENDED]
    return CertificateFollowups(
        visits=_programme(cert),
        assessments=followups_of(cert, cert.cb),
        options=options,
        nothing_more=ended[0] if len(ended) == len(options) else None,
        may_plan="scheme_manager" in roles_at(user, cert.cb),
        transfer_reviews=transfer_reviews_of(cert),
        transferred_to=successor,
        transferred_from=cert.transferred_from if cert.transferred_from_id else None,
        today=today,
    )


# --- taking over another CB's certificate ----------------------------------------------------


def _managed_cbs(user: User) -> list[CertificationBody]:
    """The CBs where the user plans assessments (a scheme manager or an administrator)."""
    return [
        entry.cb for entry in user_roles(user).cbs if {"scheme_manager", "admin"} & set(entry.roles)
    ]


@dataclass(frozen=True)
class Takeover:
    """A certificate looked up to be taken over by ``cb``, with what stops it."""

    certificate: Certificate
    issue: CertificateIssue | None
    cb: CertificationBody | None
    problems: list[DomainError]
    reviews: list[Assessment]


def _takeover(number: str, cb: CertificationBody | None, today: dt.date) -> Takeover | None:
    cert = certificate_by_number(number)
    if cert is None:
        return None
    problems: list[DomainError] = []
    if cb is not None:
        problems += visit_plan_problems(
            certificate=cert, kind=AssessmentKind.TRANSFER_REVIEW, cb=cb, on=today
        )
    with_status_today([cert], today)
    return Takeover(
        certificate=cert,
        issue=certificate_last_issue(cert),
        cb=cb,
        problems=problems,
        reviews=[r for r in transfer_reviews_of(cert) if cb is not None and r.cb_id == cb.pk],
    )


@require_http_methods(["GET", "HEAD", "POST"])
@cb_section
def transfer_in_view(request: HttpRequest) -> HttpResponse:
    """Take over a certificate of another CB: look it up by its number, see its holder, CB
    and status, and plan the transfer review by your CB. After the review's report, its
    decision screen offers the transfer."""
    user = current_user(request)
    title = "Take over a certificate"
    managed = _managed_cbs(user)
    source = request.POST if request.method == "POST" else request.GET
    lookup = f.TransferLookupForm(
        source if "number" in source else None, cbs=[(cb.pk, cb.code) for cb in managed]
    )
    cb: CertificationBody | None = None
    takeover: Takeover | None = None
    searched = lookup.is_bound and lookup.is_valid()
    today = timezone.localdate()
    if searched:
        wanted = lookup.cleaned_data["cb"]
        cb = next((c for c in managed if str(c.pk) == wanted), managed[0] if managed else None)
        takeover = _takeover(lookup.cleaned_data["number"], cb, today)
    form: f.VisitPlanForm | None = None
    if cb is not None and takeover is not None:
        staff, assessors = staff_choices(cb)
        form = f.VisitPlanForm(
            request.POST if request.method == "POST" else None,
            staff=staff,
            assessors=assessors,
        )
    status = 200
    if request.method == "POST":
        if cb is None:
            refusal = PermissionDenied(
                "Only a scheme manager of a certification body plans a transfer review.",
                code=PERMISSION_CB_ROLE_REQUIRED,
                params={"roles": ["scheme_manager"]},
            )
            return error_page(request, refusal, title=title)
        if takeover is None or form is None:
            status = 404 if searched else 400
        elif takeover.problems:
            return error_page(request, takeover.problems[0], title=title)
        else:
            status = 400
            if form.is_valid():
                try:
                    a = _plan(
                        request,
                        form,
                        kind=AssessmentKind.TRANSFER_REVIEW,
                        certificate=takeover.certificate,
                        cb=cb,
                    )
                except DomainError as exc:
                    if (page := show_refusal(request, exc, form, None)) is not None:
                        return page
                    status = exc.http_status
                else:
                    messages.success(
                        request,
                        f"The transfer review of {takeover.certificate.number} by {cb.code} "
                        "is planned.",
                    )
                    return redirect("web:cb:assessment", pk=a.pk)
    elif searched and takeover is None:
        status = 404
    context: dict[str, Any] = {
        "lookup": lookup,
        "searched": searched,
        "takeover": takeover,
        "managed": managed,
        "form": form,
        "section": SECTION,
        "title": title,
    }
    return render(request, "web/cb/transfer_in.html", context, status=status)
