"""Domain errors on back-office pages: as form errors, or as a page of their own."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apcert.core.errors import DomainError, NotFound, PermissionDenied

OFFICE_PREFIX = "/office/"

#: Each back-office section by the start of its addresses: what "Back to ..." calls it, and
#: the page that link opens.
SECTIONS = (
    ("/office/cb/", "the certification body's pages", "web:cb:applications"),
    ("/office/org/", "the organization's pages", "web:org:organizations"),
    ("/office/secretariat/", "the Secretariat's pages", "web:sec:cbs"),
)


def add_form_error(
    form: forms.Form, error: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal on the form: on the field it names (through ``fields``, the
    service's field names to the form's), else above the form."""
    name = (fields or {}).get(error.field or "", error.field)
    form.add_error(name if name in form.fields else None, error.message)


def in_office(request: HttpRequest) -> bool:
    """True for an address of the back office."""
    return request.path_info.startswith(OFFICE_PREFIX)


def way_back(request: HttpRequest, *, to_section: bool = True) -> dict[str, str]:
    """The links an error page offers besides the back office's home: the page the visitor
    came from (when it is on this site) and, for a signed-in user and when ``to_section``,
    the section the address belongs to."""
    links: dict[str, str] = {}
    referer = request.META.get("HTTP_REFERER", "")
    if (
        isinstance(referer, str)
        and referer
        and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and referer != request.build_absolute_uri()
    ):
        links["back_url"] = referer
    user = getattr(request, "user", None)
    if to_section and user is not None and user.is_authenticated:
        for prefix, label, name in SECTIONS:
            if request.path_info.startswith(prefix):
                links["section_label"] = label
                links["section_url"] = reverse(name)
    return links


def refusal_heading(error: DomainError) -> str:
    """What a refusal page is headed: what happened, not the page refused."""
    if isinstance(error, PermissionDenied):
        return "Not allowed"
    if isinstance(error, NotFound):
        return "Not found"
    return "This is not possible"


def error_page(
    request: HttpRequest, error: DomainError, *, title: str = "", to_section: bool = True
) -> HttpResponse:
    """A page that says why the request is refused, with the error's HTTP status, its message
    and its code. ``title`` names the page or the action tried; the heading says what
    happened ("Not allowed", "This is not possible"). ``to_section=False`` leaves out the
    link back to the section, for a refusal of the whole section."""
    return render(
        request,
        "web/refused.html",
        {
            "error": error,
            "heading": refusal_heading(error),
            "message": error.message,
            "code": error.code,
            "tried": title,
            "sent": request.method == "POST",
            **way_back(request, to_section=to_section),
        },
        status=error.http_status,
    )
