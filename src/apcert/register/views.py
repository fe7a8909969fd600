"""The public register pages: search, certificate, organization, CB directory.

Server-rendered, no account. Every page answers a GET: forms are GET forms, so each search
and each "was it valid on ..." question has a URL that can be shared, and no page touches
the session or sets a CSRF cookie. Views parse the request, call one selector of
:mod:`apcert.register.selectors`, :mod:`apcert.register.directory` or
:mod:`apcert.register.search` (or :mod:`apcert.documents` for a certificate's PDF), and
render; those return public fields only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from apcert.certificates.asof import NOT_YET_ISSUED, AsOfAnswer, certificate_as_of
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.selectors import certificate_status_on
from apcert.core.dates import TYPED_DATE_HINT, parse_typed_date
from apcert.documents.downloads import public_issue_pdf
from apcert.documents.pdf_store import DrawingBusy
from apcert.register import directory, limits, selectors
from apcert.register import search as register_search
from apcert.register.caching import public_cache
from apcert.register.search import FACETS
from apcert.register.status_today import (
    NOT_YET_RECORDED,
    status_recorded,
    status_words,
    unrecorded_changes,
)
from apcert.register.templatetags.register_tags import plain_day, reason_label, status_word
from apcert.schemes.models import ProcessCategory, Standard

FACET_LABELS: dict[str, str] = {
    "status": "Status",
    "scheme": "Scheme",
    "programme": "Programme",
    "category": "Process category",
    "standard": "Standard",
    "country": "Country",
    "cb": "Certification body",
}
SORT_LABELS: dict[str, str] = {
    "relevance": "Best match",
    "newest": "Newest certificates first",
    "number": "Certificate number",
    "holder": "Holder name",
    "expires": "Expiry date (soonest first)",
    "changed": "Latest status change",
}
#: Page links shown on each side of the current page.
PAGE_WINDOW = 2


def _page_links(page: int, pages: int, link: Callable[[int], str]) -> dict[str, Any]:
    """Previous/next and a window of numbered page links, for the pagination template."""
    low, high = max(1, page - PAGE_WINDOW), min(pages, page + PAGE_WINDOW)
    return {
        "page": page,
        "pages": pages,
        "previous": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "numbers": [(n, link(n), n == page) for n in range(low, high + 1)],
    }


# --- search ------------------------------------------------------------------------------


def _search_url(query: register_search.SearchQuery, **changes: Any) -> str:
    params = query.with_(**changes).to_params() if changes else query.to_params()
    return "/?" + urlencode(params) if params else "/"


def _facet_fields(
    selected: Mapping[str, str], counts: Mapping[str, list[register_search.FacetCount]]
) -> list[dict[str, Any]]:
    """Each filter as a select: "Any" and the values among the matches with their counts.
    A chosen value stays an option even when no counts were computed."""
    out = []
    for name in FACETS:
        chosen = selected.get(name, "")
        options = [
            {
                "value": c.value,
                "text": f"{_facet_label(name, c)} ({c.count})",
                "selected": c.value == chosen,
            }
            for c in counts.get(name, [])
        ]
        if chosen and not any(o["selected"] for o in options):
            options.insert(0, {"value": chosen, "text": chosen, "selected": True})
        out.append({"name": name, "label": FACET_LABELS[name], "options": options})
    return out


def _facet_label(name: str, count: register_search.FacetCount) -> str:
    """``DE``, ``Current``, ``EPL – Electroplating``: the code first where it has a name."""
    if name == "status":
        return status_word(count.value)
    if count.label and count.label != count.value:
        return f"{count.value} – {count.label}"
    return count.value


@public_cache()
def search_page(request: HttpRequest) -> HttpResponse:
    """The register's front page: one search box, filters with counts, sortable results."""
    try:
        query = register_search.SearchQuery.from_params(request.GET)
    except register_search.InvalidSearch as error:
        problem: dict[str, Any] = {
            "text": (request.GET.get("q") or "").strip()[: register_search.TEXT_MAX],
            "error": error.message,
            # The filters as asked stay chosen, so that the form can be corrected.
            "facets": _facet_fields(
                {name: (request.GET.get(name) or "").strip()[:100] for name in FACETS}, {}
            ),
            "sorts": _sort_options("relevance"),
            "section": "search",
        }
        return render(request, "register/search.html", problem, status=400)
    result = register_search.search(query)
    first = (query.page - 1) * query.per_page + 1
    active = [
        {
            "label": FACET_LABELS[name],
            "value": value,
            "remove": _search_url(query, **{name: ""}),
        }
        for name, value in query.filters.items()
    ]
    context: dict[str, Any] = {
        "text": query.text,
        "query": query,
        "result": result,
        "first": first,
        "facets": _facet_fields(query.filters, result.facets),
        "counted": bool(result.facets),
        "count_text": _count_text(result),
        "first_url": _search_url(query, page=1),
        "section": "search",
        "active": active,
        "sorts": _sort_options(query.sort),
        "pagination": _page_links(query.page, result.pages, lambda n: _search_url(query, page=n)),
    }
    return render(request, "register/search.html", context)


def _count_text(result: register_search.SearchResult) -> str:
    if not result.total_exact:
        return f"More than {result.total:,} certificates"
    if result.total == 0:
        return "No certificate matches"
    return f"{result.total:,} certificate{'s' if result.total != 1 else ''}"


def _sort_options(chosen: str) -> list[dict[str, Any]]:
    return [
        {"value": value, "text": SORT_LABELS[value], "selected": value == chosen}
        for value in register_search.SORTS
    ]


# --- a certificate -----------------------------------------------------------------------


def _standards(issue: CertificateIssue) -> list[dict[str, Any]]:
    """The issue's declared standards with their catalogue status, read in one query, so
    that an edition superseded or withdrawn since the issue is marked as such."""
    pairs = [(str(s["designation"]), str(s["edition"])) for s in issue.standards]
    found: Q = Q(pk__in=[])
    for designation, edition in pairs:
        found |= Q(designation=designation, edition=edition)
    catalogue = {
        (s.designation, s.edition): s
        for s in Standard.objects.filter(found).select_related("superseded_by")
    }
    out = []
    for entry in issue.standards:
        std = catalogue.get((str(entry["designation"]), str(entry["edition"])))
        out.append(
            {
                "reference": f"{entry['designation']}:{entry['edition']}",
                "title": entry["title"],
                "status": std.status if std is not None else "",
                "superseded_by": (
                    std.superseded_by.reference
                    if std is not None and std.superseded_by is not None
                    else ""
                ),
                "withdrawn_on": std.withdrawn_on if std is not None else None,
            }
        )
    return out


def _transfer_links(certificate: Certificate) -> dict[str, str]:
    """The numbers of the public certificates this one was transferred from or to. Only a
    certificate withdrawn as "transferred" has a successor, so most pages ask nothing."""
    linked = Q(pk=certificate.transferred_from_id) if certificate.transferred_from_id else Q()
    if certificate.status == "withdrawn":
        linked |= Q(transferred_from=certificate)
    if not linked:
        return {}
    rows = Certificate.objects.filter(linked, status__in=PUBLIC_STATUSES).values_list(
        "pk", "number"
    )
    return {
        ("from" if pk == certificate.transferred_from_id else "to"): number for pk, number in rows
    }


def _categories(issues: list[CertificateIssue]) -> list[tuple[str, str]]:
    """Every process category in any issue's scope (code, name), for "was it valid"."""
    names: dict[str, str] = {}
    for issue in issues:
        for line in issue.scope_lines:
            names.setdefault(str(line["category"]), str(line["category_name"]))
    return sorted(names.items())


def _sites(issues: list[CertificateIssue]) -> list[tuple[int, str]]:
    """Every published site of any issue (id, "name, city"), the newest wording kept."""
    names: dict[int, str] = {}
    for issue in issues:
        for site in selectors.published_sites(issue):
            names[int(site["id"])] = f"{site['name']}, {site['city']}"
    return sorted(names.items(), key=lambda item: item[1])


def _valid_on(
    params: Mapping[str, str],
    certificate: Certificate,
    categories: list[tuple[str, str]],
    sites: list[tuple[int, str]],
) -> dict[str, Any] | None:
    """The answer to "was it valid on ...", or the problems with the question; ``None``
    when it was not asked."""
    if "on" not in params:
        return None
    raw_on = (params.get("on") or "").strip()
    raw_category = (params.get("category") or "").strip()
    raw_site = (params.get("site") or "").strip()
    errors: list[str] = []
    on: dt.date | None = None
    if not raw_on:
        errors.append(f"Give the date to check, {TYPED_DATE_HINT}.")
    else:
        on = parse_typed_date(raw_on[:40])
        if on is None:
            errors.append(f"{raw_on[:40]!r} is not a date: give it {TYPED_DATE_HINT}.")
    category_names = dict(categories)
    if raw_category and raw_category not in category_names:
        # A narrower category than a scope line's is a fair question (a line for PWB
        # covers PWB.PLT); an unknown code is not.
        known = ProcessCategory.objects.filter(code=raw_category).values_list("name", flat=True)
        name = next(iter(known), None)
        if name is None:
            errors.append(f"There is no process category {raw_category[:40]!r}.")
        else:
            category_names[raw_category] = name
    site_names = dict(sites)
    site_id: int | None = None
    if raw_site:
        # An unpublished site reads exactly like a site the certificate never had.
        site_id = int(raw_site) if raw_site.isdigit() else None
        if site_id is None or site_id not in site_names:
            errors.append(f"This certificate publishes no site {raw_site[:40]!r}.")
            site_id = None
    if errors or on is None:
        return {"errors": errors}
    answer = certificate_as_of(
        certificate=certificate, on=on, category=raw_category or None, site_id=site_id
    )
    what = " ".join(
        part
        for part in (
            f"for {category_names[raw_category]} ({raw_category})" if raw_category else "",
            f"at {site_names[site_id]}" if site_id is not None else "",
        )
        if part
    )
    return {"errors": [], "on": on, "what": what, **_valid_on_words(answer, what)}


def _valid_on_words(answer: AsOfAnswer, what: str) -> dict[str, Any]:
    """The verdict ("Valid" / "Not valid") and why, in words."""
    on = plain_day(answer.on)
    valid = answer.current and answer.covered is not False
    if answer.status == NOT_YET_ISSUED:
        why = f"on {on} the certificate had not yet been issued."
    elif answer.status != "current":
        why = f"on {on} the certificate was {status_word(answer.status).lower()}"
        why += f" (reason: {reason_label(answer.reason)})." if answer.reason else "."
        if not answer.recorded:
            why += " " + NOT_YET_RECORDED
    elif not answer.current:
        until = plain_day(answer.valid_until) if answer.valid_until else ""
        why = f"on {on} the certificate's validity had ended (it was valid until {until})."
    elif answer.covered is False:
        why = f"on {on} the certificate was current, but its scope did not cover this."
    else:
        until = plain_day(answer.valid_until) if answer.valid_until else ""
        why = f"on {on} the certificate was current (issue {answer.issue_number}, valid until "
        why += f"{until})" + (", and its scope covered this." if answer.covered else ".")
    return {
        "valid": valid,
        "verdict": ("Valid" if valid else "Not valid") + (f" {what}" if what else ""),
        "why": why,
        "answer": answer,
    }


@public_cache()
def certificate_page(request: HttpRequest, number: str) -> HttpResponse:
    """One certificate: status in words, holder, published sites, scope, standards, CB,
    dates, full public history, and "was it valid on ..." answered in place."""
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return certificate_not_found(request, number)
    issues = selectors.issues_of(certificate)
    issue = issues[-1]
    changes = selectors.status_changes_of(certificate)
    summaries = selectors.public_change_summaries(certificate)
    sites = selectors.published_sites(issue)
    site_names = {int(site["id"]): site["name"] for site in sites}
    categories = _categories(issues)
    site_choices = _sites(issues)
    valid_on = _valid_on(request.GET, certificate, categories, site_choices)
    last_change = changes[-1] if changes else None
    today = certificate_status_on(certificate)
    recorded = status_recorded(today)
    reason = last_change.reason_category if last_change else ""
    context = {
        "certificate": certificate,
        # The status today, whether or not the daily check has recorded it yet.
        "status": {
            "status": certificate.status if recorded else today.status,
            "since": certificate.status_since if recorded else today.since,
            "recorded": recorded,
            "words": status_words(today),
            "not_recorded": NOT_YET_RECORDED,
        },
        "issue": issue,
        "holder": selectors.holder_of(issue),
        "sites": sites,
        "programmes": issue.programmes,
        "scope_lines": [
            {**line, "site_name": site_names.get(line["site_id"], "") if line["site_id"] else ""}
            for line in selectors.public_scope_lines(issue)
        ],
        "standards": _standards(issue),
        "reason": reason if recorded else today.reason_category,
        "history": [{"issue": i, "summary": summaries[i.issue_number]} for i in reversed(issues)],
        "status_changes": [
            *reversed(unrecorded_changes(certificate.status, today)),
            *reversed(changes),
        ],
        "transfer": _transfer_links(certificate),
        "categories": categories,
        "site_choices": site_choices,
        "asked": {
            "on": (request.GET.get("on") or "").strip()[:40],
            "category": (request.GET.get("category") or "").strip(),
            "site": (request.GET.get("site") or "").strip(),
        },
        "valid_on": valid_on,
    }
    status = 400 if valid_on is not None and valid_on["errors"] else 200
    return render(request, "register/certificate.html", context, status=status)


# The document carries the certificate's status of the day across its pages when it is not
# current: cached as the certificate's page is, a short while and never past midnight UTC,
# and asked again with its validator, which a 304 answers without drawing anything.
@require_safe
@public_cache()
def certificate_pdf(request: HttpRequest, number: str, issue_number: int) -> HttpResponse:
    """One issue of a certificate as a PDF, with its QR code and signed credential."""
    try:
        document = public_issue_pdf(number, issue_number)
    except DrawingBusy:
        return limits.busy(
            "The register is drawing as many certificate PDFs as it draws at once.",
            limits.PDF_RETRY_SECONDS,
        )
    if document is None:
        return _not_found(
            request,
            "Certificate issue not found",
            f"The public register has no issue {issue_number} of a certificate "
            f"{number.strip()[:80]!r}.",
        )
    response = HttpResponse(document.content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response


def _number_key(number: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def certificate_not_found(request: HttpRequest, number: str) -> HttpResponse:
    """A number the register does not know (or a draft): say so, and offer close matches.
    The same number typed in another case or spacing leads straight to the certificate."""
    asked = number.strip()[:80]
    suggestions = register_search.close_numbers(asked, limit=5) if asked else []
    same = [s for s in suggestions if _number_key(s) == _number_key(asked)]
    if len(same) == 1 and same[0] != number:
        return redirect("register:certificate", same[0])
    return render(
        request,
        "register/certificate_not_found.html",
        {
            "number": asked,
            "suggestions": [s for s in suggestions if s != asked],
            "search_params": urlencode({"q": asked}),
        },
        status=404,
    )


# --- organizations and certification bodies -----------------------------------------------


def _not_found(request: HttpRequest, title: str, message: str) -> HttpResponse:
    return render(
        request, "register/not_found.html", {"title": title, "message": message}, status=404
    )


@public_cache()
def organization_page(request: HttpRequest, organization_id: int) -> HttpResponse:
    """A certificate holder and all its public certificates."""
    profile = directory.public_organization(organization_id)
    if profile is None:
        return _not_found(
            request,
            "Organization not found",
            f"There is no organization {organization_id} in the public register: it holds "
            "no published certificate.",
        )
    return render(request, "register/organization.html", {"organization": profile})


@public_cache()
def body_list_page(request: HttpRequest) -> HttpResponse:
    """The directory of accepted certification bodies."""
    return render(
        request,
        "register/bodies.html",
        {"bodies": directory.public_bodies(), "section": "bodies"},
    )


def _whole_number(raw: str, name: str, low: int, high: int) -> int | str:
    """The parameter as an int, or the message saying what it must be."""
    if raw.isdigit() and low <= int(raw) <= high:
        return int(raw)
    return f"{name}: a whole number from {low} to {high} (not {raw[:20]!r})."


@public_cache()
def body_page(request: HttpRequest, code: str) -> HttpResponse:
    """One certification body: its acceptances and its current certificates, paginated."""
    body = directory.public_body(code)
    if body is None:
        return _not_found(
            request,
            "Certification body not found",
            f"There is no certification body {code[:20]!r} in the public register.",
        )
    page = _whole_number(
        (request.GET.get("page") or "1").strip(), "page", 1, directory.BODY_CERTIFICATES_PAGE_MAX
    )
    per_page = _whole_number(
        (request.GET.get("per_page") or str(directory.BODY_CERTIFICATES_PER_PAGE)).strip(),
        "per_page",
        1,
        directory.BODY_CERTIFICATES_PER_PAGE_MAX,
    )
    if isinstance(page, str) or isinstance(per_page, str):
        error = page if isinstance(page, str) else per_page
        return render(
            request,
            "register/body.html",
            {"body": body, "error": error, "section": "bodies"},
            status=400,
        )
    certificates = directory.body_current_certificates(body.code, page=page, per_page=per_page)
    if certificates.page > certificates.pages:
        return _not_found(
            request,
            "Page not found",
            f"{body.code} has {certificates.pages} page(s) of current certificates; there "
            f"is no page {certificates.page}.",
        )
    base = reverse("register:body", args=[body.code])

    def link(n: int) -> str:
        params = {"page": str(n)} if n > 1 else {}
        if per_page != directory.BODY_CERTIFICATES_PER_PAGE:
            params["per_page"] = str(per_page)
        return base + ("?" + urlencode(params) if params else "")

    return render(
        request,
        "register/body.html",
        {
            "body": body,
            "section": "bodies",
            "certificates": certificates,
            "first": (certificates.page - 1) * certificates.per_page + 1,
            "pagination": _page_links(certificates.page, certificates.pages, link),
        },
    )
