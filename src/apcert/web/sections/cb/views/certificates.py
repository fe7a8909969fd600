"""A certificate of the CB: suspend, restore, withdraw; re-issue for a recorded change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from apcert.certificates.choices import CertificateStatus, PublicationReviewStatus
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    RecordedChange,
    certificate_recorded_changes,
    certificates_for_cb_staff,
    publication_reviews_of,
)
from apcert.certificates.services import (
    certificate_holder_renamed,
    certificate_publication_resubmit,
    certificate_restore,
    certificate_site_moved,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import INVALID_ACTION, DomainError
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.common import SECTION, cb_page, roles_at, show_refusal
from apcert.web.status_today import with_status_today

# --- a certificate: suspend, restore, withdraw; re-issue for a recorded change ---------------

#: The certificate actions this page takes: (form, label). Which of them it offers follows
#: from the certificate's status through ``lifecycle.CERTIFICATE``; a re-issue is offered the
#: same way, for a change the records show.
CERTIFICATE_ACTIONS: dict[str, tuple[type[forms.Form], str]] = {
    "suspend": (f.SuspendForm, "Suspend"),
    "restore": (f.RestoreForm, "Restore"),
    "withdraw": (f.WithdrawForm, "Withdraw"),
}

#: Each recorded change and the service that re-issues the certificate for it.
REISSUE_SERVICES: dict[str, Callable[..., Certificate]] = {
    "holder_renamed": certificate_holder_renamed,
    "site_renamed": certificate_site_renamed,
    "site_moved": certificate_site_moved,
    "standard_updated": certificate_standard_update,
}


def _certificate(request: HttpRequest, pk: int) -> Certificate:
    return get_object_or_404(certificates_for_cb_staff(current_user(request)), pk=pk)


def _certificate_page(
    request: HttpRequest,
    cert: Certificate,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    decider = "decision_maker" in roles_at(current_user(request), cert.cb)
    actions = []
    for action in CERTIFICATE.actions_from(cert.status):
        if decider and action in CERTIFICATE_ACTIONS:
            form_class, label = CERTIFICATE_ACTIONS[action]
            form = bound[1] if bound and bound[0] == action else form_class(prefix=action)
            actions.append({"action": action, "label": label, "form": form})
    reissue = bound[1] if bound and bound[0] == "reissue" else None
    if reissue is None and decider and CERTIFICATE.allowed(cert.status, "reissue"):
        changes = certificate_recorded_changes(cert)
        if changes:
            reissue = f.ReissueForm(prefix="reissue", changes=[(c.key, c.label) for c in changes])
    reviews = publication_reviews_of(cert)
    resubmit = None
    if (
        decider
        and cert.status == CertificateStatus.DRAFT
        and reviews
        and reviews[0].status == PublicationReviewStatus.RETURNED
    ):
        resubmit = (
            bound[1] if bound and bound[0] == "resubmit" else f.ResubmitForm(prefix="resubmit")
        )
    with_status_today([cert])
    return render(
        request,
        "web/cb/certificate_detail.html",
        {
            "cert": cert,
            "issues": list(cert.issues.order_by("-issue_number")),
            "changes": list(cert.status_changes.order_by("-effective_on", "-id")),
            "actions": actions,
            "reissue": reissue,
            "reviews": reviews,
            "resubmit": resubmit,
            "section": SECTION,
        },
        status=status,
    )


@require_safe
@cb_page
def certificate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _certificate_page(request, _certificate(request, pk))


def _status_call(action: str) -> Callable[..., Certificate]:
    calls: dict[str, Callable[..., Certificate]] = {
        "suspend": certificate_suspend,
        "restore": certificate_restore,
        "withdraw": certificate_withdraw,
    }
    return calls[action]


def _reissue_target(change: RecordedChange) -> dict[str, Any]:
    if change.site is not None:
        return {"site": change.site}
    if change.standard is not None:
        return {"standard": change.standard}
    return {}


@require_POST
@cb_page
def certificate_reissue_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-issue for one change the records show. The service checks it again under its lock
    and writes the new issue with what changed read from the two issues' snapshots."""
    cert = _certificate(request, pk)
    changes = {c.key: c for c in certificate_recorded_changes(cert)}
    form = f.ReissueForm(
        request.POST, prefix="reissue", changes=[(k, c.label) for k, c in changes.items()]
    )
    if form.is_valid():
        change = changes[form.cleaned_data["change"]]
        try:
            cert = REISSUE_SERVICES[change.kind](
                actor=current_user(request),
                certificate=cert,
                decided_on=form.cleaned_data["decided_on"] or timezone.localdate(),
                rationale=form.cleaned_data["rationale"],
                **_reissue_target(change),
            )
        except DomainError as exc:
            offered = CERTIFICATE.allowed(cert.status, "reissue")
            if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
                return page
            return _certificate_page(request, cert, bound=("reissue", form), status=exc.http_status)
        messages.success(request, f"{cert.number}: issue {cert.current_issue_number} made.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=("reissue", form), status=400)


@require_POST
@cb_page
def certificate_resubmit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit a certificate the Secretariat returned for review again, with the answer."""
    cert = _certificate(request, pk)
    form = f.ResubmitForm(request.POST, prefix="resubmit")
    if form.is_valid():
        try:
            certificate_publication_resubmit(
                actor=current_user(request), certificate=cert, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            if (page := show_refusal(request, exc, form, None)) is not None:
                return page
            return _certificate_page(
                request, cert, bound=("resubmit", form), status=exc.http_status
            )
        messages.success(request, f"{cert.number} is submitted to the Secretariat again.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=("resubmit", form), status=400)


@require_POST
@cb_page
def certificate_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    cert = _certificate(request, pk)
    if action not in CERTIFICATE_ACTIONS:
        return error_page(
            request,
            DomainError("There is no such action on a certificate.", code=INVALID_ACTION),
        )
    form_class, label = CERTIFICATE_ACTIONS[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            _status_call(action)(actor=current_user(request), certificate=cert, **form.cleaned_data)
        except DomainError as exc:
            offered = CERTIFICATE.allowed(cert.status, action)
            if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
                return page
            return _certificate_page(request, cert, bound=(action, form), status=exc.http_status)
        messages.success(request, f"{cert.number}: {label.lower()} recorded.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=(action, form), status=400)
