"""The Secretariat's back-office pages, under /office/secretariat/ (namespace ``web:sec``).

Certification bodies and their acceptance, the reference data, and every certificate of
every CB. The selectors and services refuse anyone but the Secretariat (403 with the reason,
nothing written); each view parses input, calls one selector or service and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apcert.bodies.models import CBAcceptance, CertificationBody
from apcert.bodies.selectors import (
    cb_acceptances_for_secretariat,
    cb_codes_for_secretariat,
    cb_countries_for_secretariat,
    cb_with_acceptances_for_secretariat,
    cbs_for_secretariat,
)
from apcert.bodies.services import cb_acceptance_grant, cb_acceptance_transition, cb_create
from apcert.certificates.choices import CertificateStatus, PublicationReviewStatus
from apcert.certificates.lifecycle import PUBLICATION_REVIEW
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    certificate_last_issue,
    certificates_under_publication_review,
    certificates_visible_to,
    publication_reviews_for_secretariat,
    publication_reviews_of,
)
from apcert.certificates.services import (
    certificate_publication_approve,
    certificate_publication_return,
)
from apcert.core.errors import (
    INVALID_CHOICE,
    PERMISSION_SECRETARIAT_REQUIRED,
    DomainError,
    PermissionDenied,
)
from apcert.core.permissions import is_secretariat
from apcert.schemes.choices import StandardStatus
from apcert.schemes.selectors import (
    categories,
    programmes_catalogue,
    schemes_catalogue,
    schemes_with_rules,
    standards_catalogue,
)
from apcert.schemes.services import scheme_publication_review_set
from apcert.web.columns import certificate_columns
from apcert.web.errors import add_form_error, error_page
from apcert.web.exports import export_response
from apcert.web.lists import (
    ChoiceFilter,
    Column,
    DateRange,
    Search,
    Sort,
    TextFilter,
    country_code,
    list_page,
)
from apcert.web.section import AnyView, current_user, section
from apcert.web.sections.sec.forms import (
    AcceptanceForm,
    AcceptanceStatusForm,
    CBForm,
    PublicationApproveForm,
    PublicationReturnForm,
    PublicationReviewSettingForm,
)
from apcert.web.status_today import with_status_today

SECTION = "secretariat"

View = Callable[..., HttpResponse]


NOT_SECRETARIAT = PermissionDenied(
    "Only the IECQ Secretariat may do this.", code=PERMISSION_SECRETARIAT_REQUIRED
)


def secretariat_page(title: str) -> Callable[[AnyView], AnyView]:
    """Refuse the page with the reason (403) to anyone but the Secretariat, before it reads
    anything; the selectors and services check again."""
    return section("secretariat", allowed=is_secretariat, refusal=NOT_SECRETARIAT, title=title)


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(request, f"web/sec/{template}", {"section": SECTION, **context}, status=status)


# --- certification bodies ----------------------------------------------------------------------

CB_SORTS = {
    "code": Sort("Code", ("code",)),
    "name": Sort("Name", ("name",)),
    "country": Sort("Country", ("country", "code")),
    "created": Sort("Date added", ("created_at",)),
}


CB_COLUMNS = (
    Column("Code", lambda cb: cb.code),
    Column("Name", lambda cb: cb.name),
    Column("Country", lambda cb: cb.country),
    Column("Website", lambda cb: cb.website),
    Column("Acceptances active", lambda cb: cb.active_acceptance_count),
    Column("Acceptances", lambda cb: cb.acceptance_count),
    Column("Added (UTC)", lambda cb: cb.created_at),
)


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Certification bodies")
def cb_list(request: HttpRequest) -> HttpResponseBase:
    """Every CB with its acceptances counted; search by code or name, filter by country
    and date added, sort, page, export."""
    cbs = cbs_for_secretariat(current_user(request))
    countries = cb_countries_for_secretariat(current_user(request))
    listing = list_page(
        request,
        cbs,
        sorts=CB_SORTS,
        default_sort="code",
        filters=[ChoiceFilter("country", "country", [(c, c) for c in countries], label="Country")],
        search=Search("Code or name contains", ("code__icontains", "name__icontains")),
        date_ranges=[DateRange("added", "created_at__date", "Added")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing, CB_COLUMNS, name="certification-bodies", title="Certification bodies"
        )
    return _render(request, "cb_list.html", {"listing": listing})


@require_http_methods(["GET", "HEAD", "POST"])
@secretariat_page("New certification body")
def cb_new(request: HttpRequest) -> HttpResponse:
    """Accept a new CB into IECQ and give it its code (``cb_create``)."""
    form = CBForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            cb = cb_create(
                actor=current_user(request),
                code=data["code"],
                name=data["name"],
                country=data["country"],
                website=data["website"],
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="New certification body")
        except DomainError as exc:
            add_form_error(form, exc)
        else:
            messages.success(
                request, f"{cb.code} {cb.name} is added. Now accept it for a programme."
            )
            return redirect("web:sec:cb", pk=cb.pk)
    return _render(request, "cb_new.html", {"form": form}, status=400 if form.is_bound else 200)


def _cb(request: HttpRequest, pk: int) -> CertificationBody:
    return get_object_or_404(cb_with_acceptances_for_secretariat(current_user(request)), pk=pk)


def _cb_page(
    request: HttpRequest,
    cb: CertificationBody,
    *,
    form: AcceptanceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return _render(
        request,
        "cb_detail.html",
        {
            "cb": cb,
            "acceptances": list(cb.acceptances.all()),
            "form": form or AcceptanceForm(),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Certification body")
def cb_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One CB: its acceptances, and the form to accept it for another programme."""
    return _cb_page(request, _cb(request, pk))


@require_http_methods(["POST"])
@secretariat_page("Accept a certification body")
def acceptance_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept the CB for a programme, with its dates (``cb_acceptance_grant``)."""
    cb = _cb(request, pk)
    form = AcceptanceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            acceptance = cb_acceptance_grant(
                actor=current_user(request),
                cb=cb,
                programme=data["programme"],
                accepted_on=data["accepted_on"],
                valid_until=data["valid_until"],
                categories=data["categories"],
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Accept a certification body")
        except DomainError as exc:
            if exc.code == "cb.acceptance_exists":
                form.add_error("programme", exc.message)
            else:
                add_form_error(form, exc)
        else:
            messages.success(request, f"{cb.code} is accepted for {acceptance.programme.code}.")
            return redirect("web:sec:cb", pk=cb.pk)
    return _cb_page(request, cb, form=form, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@secretariat_page("Change an acceptance")
def acceptance_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Suspend, withdraw or restore an acceptance (``cb_acceptance_transition``)."""
    acceptance: CBAcceptance = get_object_or_404(
        cb_acceptances_for_secretariat(current_user(request)), pk=pk
    )
    form = AcceptanceStatusForm(
        request.POST if request.method == "POST" else None, current=acceptance.status
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = cb_acceptance_transition(
                actor=current_user(request),
                acceptance=acceptance,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Change an acceptance")
        except DomainError as exc:
            add_form_error(form, exc)
        else:
            messages.success(
                request,
                f"The acceptance of {acceptance.cb.code} for {acceptance.programme.code} is "
                f"now {changed.get_status_display()}.",
            )
            return redirect("web:sec:cb", pk=acceptance.cb_id)
    return _render(
        request,
        "acceptance_status.html",
        {"acceptance": acceptance, "form": form},
        status=400 if form.is_bound else 200,
    )


# --- reference data ----------------------------------------------------------------------------

STANDARD_SORTS = {
    "designation": Sort("Designation", ("designation", "edition")),
    "status": Sort("Status", ("status", "designation", "edition")),
    "withdrawn": Sort("Withdrawn on", ("withdrawn_on", "designation")),
}


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    depth: int
    is_design: bool


def _category_tree() -> list[CategoryRow]:
    """The process categories in tree order (each under its parent), with their depth."""
    rows = list(categories())
    children: dict[int | None, list[Any]] = {}
    for c in rows:
        children.setdefault(c.parent_id, []).append(c)
    tree: list[CategoryRow] = []
    stack = [(c, 0) for c in reversed(children.get(None, []))]
    while stack:
        c, depth = stack.pop()
        tree.append(CategoryRow(c.code, c.name, depth, c.is_design))
        stack.extend((child, depth + 1) for child in reversed(children.get(c.pk, [])))
    return tree


STANDARD_COLUMNS = (
    Column("Designation", lambda s: s.designation),
    Column("Edition", lambda s: s.edition),
    Column("Title", lambda s: s.title),
    Column("Status", lambda s: s.get_status_display()),
    Column(
        "Superseded by",
        lambda s: (
            f"{s.superseded_by.designation}:{s.superseded_by.edition}" if s.superseded_by else ""
        ),
    ),
    Column("Withdrawn on", lambda s: s.withdrawn_on),
    Column("Accepted for use in IECQ", lambda s: s.accepted_for_iecq),
)


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Reference data")
def reference(request: HttpRequest) -> HttpResponseBase:
    """Schemes, programmes, the process category tree and the standards catalogue, as the
    database holds them; the standards searchable, filterable by status, acceptance and
    date withdrawn, sortable and exportable."""
    listing = list_page(
        request,
        standards_catalogue(),
        search=Search(
            "Designation or title contains", ("designation__icontains", "title__icontains")
        ),
        sorts=STANDARD_SORTS,
        default_sort="designation",
        filters=[
            ChoiceFilter("status", "status", StandardStatus.choices, label="Status"),
            ChoiceFilter(
                "accepted",
                "accepted_for_iecq",
                [("True", "accepted for IECQ"), ("False", "not accepted")],
                label="Accepted for use in IECQ",
            ),
        ],
        date_ranges=[DateRange("withdrawn", "withdrawn_on", "Withdrawn")],
        exportable=True,
        per_page=50,
    )
    if listing.export:
        return export_response(
            listing, STANDARD_COLUMNS, name="standards", title="Standards catalogue"
        )
    return _render(
        request,
        "reference.html",
        {
            "schemes": list(schemes_catalogue()),
            "programmes": list(programmes_catalogue()),
            "categories": _category_tree(),
            "listing": listing,
        },
    )


# --- every certificate -------------------------------------------------------------------------

#: The certificate list counts at most this many matches; past it the page says "more than".
CERT_PER_PAGE = 50
CERT_SORTS = {
    "number": Sort("Number", ("number",)),
    "expires": Sort("Expiry date", ("expires_on",)),
    "status_since": Sort("Status since", ("status_since",)),
    "issued": Sort("First issued", ("first_issued_on",)),
}


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Certificates")
def certificate_list(request: HttpRequest) -> HttpResponseBase:
    """Every certificate of every CB: search by number or holder, filter by CB, status,
    holder's country and dates; sort; pages read with LIMIT, the count capped
    (:mod:`apcert.web.lists`); export."""
    certificates = certificates_visible_to(current_user(request))
    cbs = cb_codes_for_secretariat(current_user(request))
    listing = list_page(
        request,
        certificates,
        sorts=CERT_SORTS,
        default_sort="number",
        search=Search(
            "Number, holder or registration number",
            (
                "number__icontains",
                "organization__legal_name__icontains",
                "organization__registration_number__icontains",
            ),
        ),
        filters=[
            ChoiceFilter("cb", "cb__code", [(c, c) for c in cbs], label="Certification body"),
            ChoiceFilter("status", "status", CertificateStatus.choices, label="Status"),
        ],
        text_filters=[
            TextFilter(
                "country",
                "organization__country",
                "Holder's country",
                clean=country_code,
                hint="Two letters, e.g. DE.",
                size=4,
            )
        ],
        date_ranges=[
            DateRange("expires", "expires_on", "Expires"),
            DateRange("issued", "first_issued_on", "First issued"),
        ],
        exportable=True,
        per_page=CERT_PER_PAGE,
    )
    if listing.export:
        return export_response(
            listing,
            certificate_columns(),
            name="certificates",
            title="Certificates",
            prepare=with_status_today,
        )
    with_status_today(listing.items)
    return _render(request, "certificate_list.html", {"listing": listing})


@require_POST
@secretariat_page("Review before publication")
def scheme_publication_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn a scheme's review of new certificates before publication on or off."""
    scheme = get_object_or_404(schemes_with_rules(), pk=pk)
    form = PublicationReviewSettingForm(request.POST)
    if not form.is_valid():
        return error_page(
            request,
            DomainError("Choose on or off.", code=INVALID_CHOICE),
            title="Review before publication",
        )
    try:
        scheme_publication_review_set(
            actor=current_user(request), scheme=scheme, enabled=form.cleaned_data["enabled"]
        )
    except DomainError as exc:
        return error_page(request, exc, title="Review before publication")
    state = "on" if form.cleaned_data["enabled"] else "off"
    messages.success(request, f"The review before publication of {scheme.code} is {state}.")
    return redirect("web:sec:reference")


# --- the review of new certificates before publication ----------------------------------------

REVIEW_SORTS = {
    "submitted": Sort("Submitted", ("submitted_at",)),
    "number": Sort("Number", ("certificate__number",)),
    "cb": Sort("Certification body", ("certificate__cb__code", "submitted_at")),
}


REVIEW_COLUMNS = (
    Column("Certificate", lambda r: r.certificate.number),
    Column("Certification body", lambda r: r.certificate.cb.code),
    Column("Holder", lambda r: r.certificate.organization.legal_name),
    Column("Holder's country", lambda r: r.certificate.organization.country),
    Column("Scheme", lambda r: r.certificate.scheme.code),
    Column("Submitted (UTC)", lambda r: r.submitted_at),
    Column("Submitted by", lambda r: str(r.submitted_by) if r.submitted_by else ""),
    Column("Review", lambda r: r.get_status_display()),
)


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Review before publication")
def publication_reviews(request: HttpRequest) -> HttpResponseBase:
    """The new certificates submitted for review, those awaiting it first by default:
    search by number or holder, filter by review status, CB and date submitted, sort,
    page, export."""
    reviews = publication_reviews_for_secretariat(current_user(request))
    listing = list_page(
        request,
        reviews,
        search=Search(
            "Number or holder contains",
            ("certificate__number__icontains", "certificate__organization__legal_name__icontains"),
        ),
        sorts=REVIEW_SORTS,
        default_sort="submitted",
        filters=[
            ChoiceFilter(
                "status", "status", PublicationReviewStatus.choices, label="Review status"
            ),
            ChoiceFilter(
                "cb",
                "certificate__cb__code",
                [(c, c) for c in cb_codes_for_secretariat(current_user(request))],
                label="Certification body",
            ),
        ],
        date_ranges=[DateRange("submitted", "submitted_at__date", "Submitted")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing, REVIEW_COLUMNS, name="publication-reviews", title="Publication reviews"
        )
    pending = reviews.filter(status=PublicationReviewStatus.PENDING).count()
    return _render(request, "publication_reviews.html", {"listing": listing, "pending": pending})


def _reviewed_certificate(request: HttpRequest, pk: int) -> Certificate:
    return get_object_or_404(certificates_under_publication_review(current_user(request)), pk=pk)


def _review_page(
    request: HttpRequest,
    cert: Certificate,
    *,
    approve: forms.Form | None = None,
    give_back: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    reviews = publication_reviews_of(cert)
    # The forms are offered while the latest review's lifecycle allows an answer.
    pending = bool(reviews) and bool(PUBLICATION_REVIEW.actions_from(reviews[0].status))
    return _render(
        request,
        "publication_review.html",
        {
            "cert": cert,
            "issue": certificate_last_issue(cert),
            "reviews": reviews,
            "pending": pending,
            "approve": approve or PublicationApproveForm(prefix="approve"),
            "give_back": give_back or PublicationReturnForm(prefix="return"),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD"])
@secretariat_page("Review before publication")
def publication_review(request: HttpRequest, pk: int) -> HttpResponse:
    """A certificate submitted for review: its first issue as it would be published, the
    reviews so far, and the forms to approve or return it while a review is pending."""
    return _review_page(request, _reviewed_certificate(request, pk))


def _review_decision(
    request: HttpRequest,
    pk: int,
    *,
    form: forms.Form,
    slot: str,
    decide: Callable[[Certificate, dict[str, Any]], object],
    done: Callable[[Certificate], str],
) -> HttpResponse:
    """Parse ``form``, call the service through ``decide``; on a refusal, the review page
    again with the reason on the form (``slot``: which of its two forms it is)."""
    cert = _reviewed_certificate(request, pk)
    if form.is_valid():
        try:
            decide(cert, form.cleaned_data)
        except DomainError as exc:
            add_form_error(form, exc)
            return _review_page(request, cert, **{slot: form}, status=exc.http_status)
        messages.success(request, done(cert))
        return redirect("web:sec:publication-review", pk=cert.pk)
    return _review_page(request, cert, **{slot: form}, status=400)


@require_POST
@secretariat_page("Review before publication")
def publication_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve: the certificate becomes current and enters the register."""
    return _review_decision(
        request,
        pk,
        form=PublicationApproveForm(request.POST, prefix="approve"),
        slot="approve",
        decide=lambda cert, data: certificate_publication_approve(
            actor=current_user(request), certificate=cert, note=data["note"]
        ),
        done=lambda cert: f"{cert.number} is published in the register.",
    )


@require_POST
@secretariat_page("Review before publication")
def publication_return(request: HttpRequest, pk: int) -> HttpResponse:
    """Return the certificate to its CB with the reason; it stays out of the register."""
    return _review_decision(
        request,
        pk,
        form=PublicationReturnForm(request.POST, prefix="return"),
        slot="give_back",
        decide=lambda cert, data: certificate_publication_return(
            actor=current_user(request), certificate=cert, reason=data["reason"]
        ),
        done=lambda cert: f"{cert.number} is returned to {cert.cb.code}.",
    )
