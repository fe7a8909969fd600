"""The decision on an assessment."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apcert.assessments.choices import AssessmentKind
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.errors import DECISION_WRONG_ASSESSMENT
from apcert.certificates.selectors import grant_blockers
from apcert.certificates.services import certificate_grant
from apcert.core.errors import DomainError, PermissionDenied
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.assessments import assessment_for
from apcert.web.sections.cb.views.common import SECTION, cb_page, show_refusal

# --- the decision ---------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def decision_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Every rule still blocking a grant on this initial assessment, then the grant."""
    user = current_user(request)
    a = assessment_for(request, pk)
    if a.application is None or a.kind != AssessmentKind.INITIAL:
        return error_page(
            request,
            PermissionDenied(
                "A grant rests on the initial assessment of an application.",
                code=DECISION_WRONG_ASSESSMENT,
            ),
            title="Decision",
        )
    app = a.application
    form = f.GrantForm(request.POST if request.method == "POST" else None, prefix="grant")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                cert = certificate_grant(
                    actor=user,
                    application=app,
                    assessment=a,
                    decided_on=form.cleaned_data["decided_on"],
                    rationale=form.cleaned_data["rationale"],
                )
            except DomainError as exc:
                if (page := show_refusal(request, exc, form, None)) is not None:
                    return page
                status = exc.http_status
            else:
                if cert.status == CertificateStatus.DRAFT:
                    messages.success(
                        request,
                        f"Certification is granted: {cert.number}. The scheme has the "
                        "Secretariat review new certificates: it is published once approved.",
                    )
                else:
                    messages.success(request, f"Certification is granted: {cert.number}.")
                return redirect("web:cb:certificate", pk=cert.pk)
    on = (form.cleaned_data.get("decided_on") if form.is_bound and form.is_valid() else None) or (
        timezone.localdate()
    )
    blockers = grant_blockers(actor=user, application=app, assessment=a, on=on)
    return render(
        request,
        "web/cb/decision.html",
        {
            "a": a,
            "app": app,
            "on": on,
            "blockers": blockers,
            "form": form,
            "section": SECTION,
        },
        status=status,
    )
