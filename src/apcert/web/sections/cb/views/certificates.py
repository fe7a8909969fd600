"""A certificate of the CB, and the decisions on it: suspend, restore, withdraw, cancel at the
holder's request, reduce the scope, remove a site, re-issue for a recorded change.

The certificate's page offers each decision that the lifecycle table allows from its status
to a decision maker of its CB; a decision that a rule blocks today is shown, disabled, with
the rule in words. Each decision has its own page: its form (no reason preselected), then a
confirmation page that shows what the public register will show afterwards, read by the
register's own selectors from the decision run and rolled back, and only then the decision,
written provided it still does exactly what was shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.accounts.models import User
from apcert.certificates.choices import (
    CertificateStatus,
    PublicationReviewStatus,
    StatusReason,
)
from apcert.certificates.errors import (
    CERTIFICATE_CHANGED_SINCE_REVIEW,
    CERTIFICATE_EMPTY_SCOPE,
    CERTIFICATE_ENDED_BY_CALENDAR,
    CERTIFICATE_NOTHING_CHANGED,
    CERTIFICATE_SCOPE_LINE_NOT_FOUND,
    CERTIFICATE_SITE_NOT_ON_CERTIFICATE,
    CERTIFICATE_SUSPENSION_EXCEEDED,
    CERTIFICATE_VALIDITY_ENDED,
    DECISION_DATE_BEFORE_LAST_CHANGE,
)
from apcert.certificates.lifecycle import CERTIFICATE, TERMINAL
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.selectors import (
    RecordedChange,
    certificate_basis,
    certificate_last_issue,
    certificate_on,
    certificate_recorded_changes,
    certificate_status_on,
    certificates_for_cb_staff,
    publication_reviews_of,
)
from apcert.certificates.services import (
    DECISION_ACTIONS,
    ChangePreview,
    certificate_action_blockers,
    certificate_cancel,
    certificate_change_confirm,
    certificate_change_preview,
    certificate_holder_renamed,
    certificate_publication_resubmit,
    certificate_reduce_scope,
    certificate_restore,
    certificate_site_moved,
    certificate_site_remove,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.certificates.snapshots import place
from apcert.core.errors import (
    INVALID_ACTION,
    DomainError,
    PermissionDenied,
    TransitionNotAllowed,
)
from apcert.cycle.sweep import certificate_sweep
from apcert.organizations.selectors import sites_of
from apcert.register.public_view import certificate_public_view
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.common import SECTION, cb_page, roles_at, show_refusal
from apcert.web.status_today import with_status_today

# --- the decisions ------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateDecision:
    """One decision of the certificate's page: its address, the key of
    ``certificates.services.DECISION_ACTIONS`` (and so the lifecycle action it applies), and
    its words."""

    slug: str
    action: str
    label: str
    title: str
    #: What it does, in a sentence, on the certificate's page.
    what: str
    #: The confirmation button after "Yes, ", ``{number}`` the certificate's.
    button: str
    #: Said once it is written: "{number} is <done>."
    done: str
    #: Shown as destructive (red): it takes something away from the certificate in public.
    danger: bool = True
    #: It makes a new issue (the scope, sites and holder are compared before and after).
    makes_issue: bool = False
    #: It cannot be undone.
    final: bool = True


DECISIONS: dict[str, CertificateDecision] = {
    d.slug: d
    for d in (
        CertificateDecision(
            slug="suspend",
            action="suspend",
            label="Suspend",
            title="Suspend the certificate",
            what="The certificate is not valid until it is restored; the register shows it as "
            "suspended, with the reason.",
            button="suspend {number}",
            done="suspended",
            final=False,
        ),
        CertificateDecision(
            slug="restore",
            action="restore",
            label="Restore",
            title="Restore the certificate",
            what="The cause of the suspension is resolved: the certificate is current again.",
            button="restore {number}",
            done="restored",
            danger=False,
            final=False,
        ),
        CertificateDecision(
            slug="withdraw",
            action="withdraw",
            label="Withdraw",
            title="Withdraw the certificate",
            what="The certificate ends for good; the holder must apply again to be certified.",
            button="withdraw {number}",
            done="withdrawn",
        ),
        CertificateDecision(
            slug="cancel",
            action="cancel",
            label="Cancel at the holder's request",
            title="Cancel the certificate at the holder's request",
            what="The holder asked to end the certificate: it ends for good, shown as cancelled "
            "at the holder's request.",
            button="cancel {number} at the holder's request",
            done="cancelled",
        ),
        CertificateDecision(
            slug="reduce-scope",
            action="reduce_scope",
            label="Reduce the scope",
            title="Reduce the scope",
            what="Remove scope lines the certificate no longer covers: a new issue says which.",
            button="reduce the scope of {number}",
            done="re-issued with a reduced scope",
            makes_issue=True,
        ),
        CertificateDecision(
            slug="remove-site",
            action="site_remove",
            label="Remove a site",
            title="Remove a site",
            what="Remove a site with all its scope lines: a new issue says so.",
            button="remove the site from {number}",
            done="re-issued without the site",
            makes_issue=True,
        ),
        CertificateDecision(
            slug="reissue",
            action="reissue",
            label="Re-issue for a recorded change",
            title="Re-issue for a recorded change",
            what="The holder's new name, a site's new name or address, or the current edition "
            "of a declared standard: a new issue certifies it.",
            button="re-issue {number}",
            done="re-issued",
            danger=False,
            makes_issue=True,
        ),
    )
}

#: Each recorded change and the service that re-issues the certificate for it.
REISSUE_SERVICES: dict[str, Callable[..., Certificate]] = {
    "holder_renamed": certificate_holder_renamed,
    "site_renamed": certificate_site_renamed,
    "site_moved": certificate_site_moved,
    "standard_updated": certificate_standard_update,
}

#: Refusals that depend on the decision's date: the page of the decision stays open with the
#: rule said above the form, since a decision taken on an earlier day may still be recorded.
DATED = frozenset(
    {
        DECISION_DATE_BEFORE_LAST_CHANGE,
        CERTIFICATE_VALIDITY_ENDED,
        CERTIFICATE_ENDED_BY_CALENDAR,
        CERTIFICATE_SUSPENSION_EXCEEDED,
    }
)

#: The form field that a refusal naming no field is about, by its code (the first of the
#: names that the decision's form has).
FIELD_OF_CODE: dict[str, tuple[str, ...]] = {
    **{code: ("decided_on",) for code in DATED},
    CERTIFICATE_EMPTY_SCOPE: ("remove", "site"),
    CERTIFICATE_SCOPE_LINE_NOT_FOUND: ("remove",),
    CERTIFICATE_SITE_NOT_ON_CERTIFICATE: ("site",),
    CERTIFICATE_NOTHING_CHANGED: ("change",),
}


def _today() -> dt.date:
    return timezone.localdate()


def _certificate(request: HttpRequest, pk: int) -> Certificate:
    return get_object_or_404(certificates_for_cb_staff(current_user(request)), pk=pk)


def _line_key(line: Mapping[str, Any]) -> str:
    return f"{line['category']}:{line['site_id']}"


def _scope_choices(issue: CertificateIssue | None) -> list[tuple[str, str]]:
    lines = issue.scope_lines if issue is not None else []
    return [
        (
            _line_key(line),
            f"{line['category']} – {line['category_name']} at {line['site_name']}: "
            f"{line['wording']}",
        )
        for line in lines
    ]


def _site_choices(issue: CertificateIssue | None) -> list[tuple[str, str]]:
    sites = issue.sites if issue is not None else []
    return [
        (
            str(site["id"]),
            f"{site['name']}, {place(site)}"
            + ("" if site.get("published") is True else " (not published)"),
        )
        for site in sites
    ]


def _form(
    decision: CertificateDecision,
    cert: Certificate,
    data: Mapping[str, Any] | None = None,
    *,
    changes: Sequence[RecordedChange] = (),
    initial: Mapping[str, Any] | None = None,
) -> forms.Form:
    if decision.action == "reduce_scope":
        return f.ScopeReductionForm(data, lines=_scope_choices(certificate_last_issue(cert)))
    if decision.action == "site_remove":
        return f.SiteRemovalForm(data, sites=_site_choices(certificate_last_issue(cert)))
    if decision.action == "reissue":
        return f.ReissueForm(data, changes=[(c.key, c.label) for c in changes], initial=initial)
    form_class: type[forms.Form] = {
        "suspend": f.SuspendForm,
        "restore": f.RestoreForm,
        "withdraw": f.WithdrawForm,
        "cancel": f.CancelForm,
    }[decision.action]
    return form_class(data)


def _change(
    decision: CertificateDecision,
    actor: User,
    form: forms.Form,
    changes: Sequence[RecordedChange],
) -> Callable[[Certificate], Certificate]:
    """The service call that ``form`` asks for, on the certificate it is given."""
    d = form.cleaned_data
    on: dt.date = d["decided_on"]
    if decision.action in ("suspend", "withdraw"):
        call = certificate_suspend if decision.action == "suspend" else certificate_withdraw
        return lambda c: call(
            actor=actor,
            certificate=c,
            reason_category=d["reason_category"],
            reason=d["reason"],
            decided_on=on,
        )
    if decision.action in ("restore", "cancel"):
        ends = certificate_restore if decision.action == "restore" else certificate_cancel
        return lambda c: ends(actor=actor, certificate=c, reason=d["reason"], decided_on=on)
    if decision.action == "reduce_scope":
        remove = [
            (code, int(site_id)) for code, _, site_id in (k.rpartition(":") for k in d["remove"])
        ]
        return lambda c: certificate_reduce_scope(
            actor=actor, certificate=c, remove=remove, reason=d["reason"], decided_on=on
        )
    if decision.action == "site_remove":
        return lambda c: certificate_site_remove(
            actor=actor,
            certificate=c,
            site=sites_of(c.organization).get(pk=int(d["site"])),
            reason=d["reason"],
            decided_on=on,
        )
    change = {c.key: c for c in changes}[d["change"]]
    target: dict[str, Any] = {}
    if change.site is not None:
        target["site"] = change.site
    elif change.standard is not None:
        target["standard"] = change.standard
    reissue = REISSUE_SERVICES[change.kind]
    return lambda c: reissue(
        actor=actor, certificate=c, decided_on=on, rationale=d["rationale"], **target
    )


def _describe(cert: Certificate) -> dict[str, Any]:
    return certificate_public_view(cert.number)


def _show_error(form: forms.Form, exc: DomainError) -> None:
    """The refusal next to the field it is about, else above the form."""
    names = (exc.field,) if exc.field else FIELD_OF_CODE.get(exc.code, ())
    name = next((n for n in names if n in form.fields), None)
    form.add_error(name, exc.message)


# --- the certificate's page ---------------------------------------------------------------


def _offered(request: HttpRequest, cert: Certificate) -> list[dict[str, Any]]:
    """The decisions the lifecycle table allows from the certificate's status, each with
    what blocks it today (empty: it may be taken)."""
    actor = current_user(request)
    today = _today()
    # The status the calendar gave it today, which each decision's service records first.
    status = certificate_on(cert, today).status
    out = []
    for decision in DECISIONS.values():
        if not CERTIFICATE.allowed(status, DECISION_ACTIONS[decision.action]):
            continue
        blockers = certificate_action_blockers(
            actor=actor, certificate=cert, action=decision.action, on=today
        )
        entry: dict[str, Any] = {"decision": decision, "blocked": [b.message for b in blockers]}
        if decision.action == "reissue" and not blockers:
            entry["changes"] = certificate_recorded_changes(cert)
        out.append(entry)
    return out


def _certificate_page(
    request: HttpRequest,
    cert: Certificate,
    *,
    resubmit_form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    decider = "decision_maker" in roles_at(current_user(request), cert.cb)
    reviews = publication_reviews_of(cert)
    resubmit = None
    if (
        decider
        and cert.status == CertificateStatus.DRAFT
        and reviews
        and reviews[0].status == PublicationReviewStatus.RETURNED
    ):
        resubmit = resubmit_form or f.ResubmitForm(prefix="resubmit")
    with_status_today([cert])
    calendar = [
        {
            "status": CertificateStatus(c.to_status).label,
            "on": c.effective_on,
            "reason": StatusReason(c.reason_category).label,
        }
        for c in certificate_status_on(cert, _today()).unrecorded
        if c.to_status is not None
    ]
    return render(
        request,
        "web/cb/certificate_detail.html",
        {
            "cert": cert,
            "basis": certificate_basis(cert),
            "calendar_unrecorded": calendar,
            "issues": list(cert.issues.order_by("-issue_number")),
            "changes": list(cert.status_changes.order_by("-effective_on", "-id")),
            "decider": decider,
            "decisions": _offered(request, cert) if decider else [],
            "ended": cert.status in TERMINAL,
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
            return _certificate_page(request, cert, resubmit_form=form, status=exc.http_status)
        messages.success(request, f"{cert.number} is submitted to the Secretariat again.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, resubmit_form=form, status=400)


@require_POST
@cb_page
def certificate_record_calendar_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Record now what the scheme's calendar did to the certificate (a suspension after a
    missed surveillance window ...), dated when it happened, as the daily sweep would."""
    cert = _certificate(request, pk)
    try:
        report = certificate_sweep(actor=current_user(request), certificate=cert, as_of=_today())
    except DomainError as exc:
        return error_page(request, exc)
    done = [*report.suspended, *report.withdrawn, *report.expired]
    if done:
        messages.success(
            request,
            f"Recorded what the scheme's calendar did to {cert.number}, dated the day it "
            "happened: see its status history.",
        )
    else:
        messages.info(request, f"There was nothing left to record for {cert.number}.")
    return redirect("web:cb:certificate", pk=cert.pk)


# --- a decision: its form, its confirmation, the decision -------------------------------


@dataclass
class _Request:
    """What every step of a decision reads first: the certificate, the decision, the
    recorded changes a re-issue may certify, and what blocks it today."""

    cert: Certificate
    decision: CertificateDecision
    changes: list[RecordedChange]
    blockers: list[DomainError]


def _start(request: HttpRequest, pk: int, slug: str) -> _Request | HttpResponse:
    """The decision's certificate and what blocks it, or the page that refuses it: no such
    decision (400), a role short (403), not allowed from the certificate's status or blocked
    whatever the date (409)."""
    cert = _certificate(request, pk)
    decision = DECISIONS.get(slug)
    if decision is None:
        return error_page(
            request,
            DomainError("There is no such action on a certificate.", code=INVALID_ACTION),
        )
    blockers = certificate_action_blockers(
        actor=current_user(request), certificate=cert, action=decision.action, on=_today()
    )
    refused = next((b for b in blockers if b.code not in DATED), None)
    if refused is not None:
        return error_page(request, refused, title=f"{decision.title}: not possible")
    changes = certificate_recorded_changes(cert) if decision.action == "reissue" else []
    return _Request(cert, decision, changes, blockers)


def _form_page(
    request: HttpRequest,
    r: _Request,
    form: forms.Form,
    *,
    status: int = 200,
    stale: DomainError | None = None,
) -> HttpResponse:
    with_status_today([r.cert])
    return render(
        request,
        "web/cb/certificate_decision.html",
        {
            "cert": r.cert,
            "decision": r.decision,
            "form": form,
            "blockers": r.blockers,
            "stale": stale,
            "section": SECTION,
        },
        status=status,
    )


def _refused(request: HttpRequest, r: _Request, form: forms.Form, exc: DomainError) -> HttpResponse:
    if isinstance(exc, PermissionDenied | TransitionNotAllowed):
        return error_page(request, exc, title=f"{r.decision.title}: not possible")
    if exc.code == CERTIFICATE_CHANGED_SINCE_REVIEW:
        return _form_page(request, r, form, status=exc.http_status, stale=exc)
    _show_error(form, exc)
    return _form_page(request, r, form, status=exc.http_status)


def _marked(rows: list[dict[str, Any]], other: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows``, each with ``differs``: whether ``other`` lacks it as it is."""

    def key(row: Mapping[str, Any]) -> str:
        return repr(sorted(row.items()))

    theirs = {key(row) for row in other}
    return [{**row, "differs": key(row) not in theirs} for row in rows]


def _comparison(preview: ChangePreview) -> dict[str, Any]:
    before, after = preview.before, preview.after
    return {
        "status_changes": (before["status"], before["since"], before["reason"])
        != (after["status"], after["since"], after["reason"]),
        "new_issue": after["issue"]["number"] != before["issue"]["number"],
        "holder_changes": before["holder"] != after["holder"],
        "lines_before": _marked(before["scope_lines"], after["scope_lines"]),
        "lines_after": _marked(after["scope_lines"], before["scope_lines"]),
        "sites_before": _marked(before["sites"], after["sites"]),
        "sites_after": _marked(after["sites"], before["sites"]),
    }


@require_http_methods(["GET", "POST"])
@cb_page
def certificate_decision_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """A decision's form (GET); posted, the page that shows what the public register will
    show once it is confirmed, with nothing written yet."""
    r = _start(request, pk, action)
    if isinstance(r, HttpResponse):
        return r
    if request.method == "GET":
        chosen = request.GET.get("change", "")
        form = _form(r.decision, r.cert, changes=r.changes, initial={"change": chosen})
        return _form_page(request, r, form)
    form = _form(r.decision, r.cert, request.POST, changes=r.changes)
    if not form.is_valid():
        return _form_page(request, r, form, status=400)
    actor = current_user(request)
    try:
        preview = certificate_change_preview(
            certificate=r.cert,
            change=_change(r.decision, actor, form, r.changes),
            describe=_describe,
        )
    except DomainError as exc:
        return _refused(request, r, form, exc)
    return render(
        request,
        "web/cb/certificate_confirm.html",
        {
            "cert": r.cert,
            "decision": r.decision,
            "form": form,
            "preview": preview,
            "compare": _comparison(preview),
            "button": r.decision.button.format(number=r.cert.number),
            "section": SECTION,
        },
    )


@require_POST
@cb_page
def certificate_confirm_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """The decision, confirmed: written if it still does what its confirmation page showed,
    refused with nothing written if the certificate changed in between. "Change the details"
    goes back to the form with what was entered."""
    r = _start(request, pk, action)
    if isinstance(r, HttpResponse):
        return r
    form = _form(r.decision, r.cert, request.POST, changes=r.changes)
    if "back" in request.POST:
        form.is_valid()
        return _form_page(request, r, form)
    if not form.is_valid():
        return _form_page(request, r, form, status=400)
    try:
        certificate_change_confirm(
            certificate=r.cert,
            change=_change(r.decision, current_user(request), form, r.changes),
            describe=_describe,
            digest=request.POST.get("digest", ""),
        )
    except DomainError as exc:
        return _refused(request, r, form, exc)
    r.cert.refresh_from_db()
    issue = f", issue {r.cert.current_issue_number}" if r.decision.makes_issue else ""
    messages.success(request, f"{r.cert.number} is {r.decision.done}{issue}.")
    return redirect("web:cb:certificate", pk=r.cert.pk)
