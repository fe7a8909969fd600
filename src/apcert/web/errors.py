"""Domain errors on back-office pages: as form errors, or as a page of their own."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apcert.core.errors import DomainError


def add_form_error(
    form: forms.Form, error: DomainError, fields: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal on the form: on the field it names (through ``fields``, the
    service's field names to the form's), else above the form."""
    name = (fields or {}).get(error.field or "", error.field)
    form.add_error(name if name in form.fields else None, error.message)


def error_page(request: HttpRequest, error: DomainError, *, title: str = "") -> HttpResponse:
    """A page that says why the request is refused, with the error's HTTP status."""
    return render(
        request,
        "web/refused.html",
        {"error": error, "title": title or "This is not possible"},
        status=error.http_status,
    )
