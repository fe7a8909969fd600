"""The history of an application, an assessment or a certificate of the CB: every audited
change, who made it and what it changed, newest first. Shown to those who may see the
record, read through the same selector as the record's page (anyone else: 404)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from apcert.applications.models import Application
from apcert.applications.selectors import application_history, applications_for_cb_staff
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import assessment_history
from apcert.audit.selectors import HistoryEntry
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_history, certificates_for_cb_staff
from apcert.web.history import history_page
from apcert.web.section import current_user
from apcert.web.sections.cb.views.assessments import assessment_for
from apcert.web.sections.cb.views.common import SECTION, cb_page


def _history(
    request: HttpRequest,
    *,
    heading: str,
    back_url: str,
    back_label: str,
    record_type: str,
    entries: list[HistoryEntry],
    title: str,
) -> HttpResponse:
    return render(
        request,
        "web/_history.html",
        {
            "nav": "web/cb/_nav.html",
            "title": title,
            "heading": heading,
            "back_url": back_url,
            "back_label": back_label,
            "record_type": record_type,
            "page": history_page(request, entries),
            "section": SECTION,
        },
    )


@require_safe
@cb_page
def application_history_view(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_object_or_404(applications_for_cb_staff(current_user(request)), pk=pk)
    return _history(
        request,
        heading=f"History of application {app.pk}",
        back_url=reverse("web:cb:application", args=[app.pk]),
        back_label=f"Application {app.pk}",
        record_type=Application._meta.label_lower,
        entries=application_history(app),
        title="Applications",
    )


@require_safe
@cb_page
def assessment_history_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = assessment_for(request, pk)
    name = f"{a.get_kind_display().capitalize()} {a.pk}"
    return _history(
        request,
        heading=f"History of {name[0].lower()}{name[1:]}",
        back_url=reverse("web:cb:assessment", args=[a.pk]),
        back_label=name,
        record_type=Assessment._meta.label_lower,
        entries=assessment_history(a),
        title="Assessments",
    )


@require_safe
@cb_page
def certificate_history_view(request: HttpRequest, pk: int) -> HttpResponse:
    cert = get_object_or_404(certificates_for_cb_staff(current_user(request)), pk=pk)
    return _history(
        request,
        heading=f"History of {cert.number}",
        back_url=reverse("web:cb:certificate", args=[cert.pk]),
        back_label=cert.number,
        record_type=Certificate._meta.label_lower,
        entries=certificate_history(cert),
        title="Certificates",
    )
