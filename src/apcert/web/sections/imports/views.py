"""The import screen of the back office, under /office/import/ (namespace ``web:imports``):
upload a register file, follow its dry run, read its report row by row, confirm the commit
and follow it. The dry run and the commit run in the worker; the batch page polls their
progress (htmx) and reloads when they end. For the Secretariat (any CB) and the CBs' scheme
managers and admins (their CB); anyone else is refused with the reason."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apcert.accounts.models import User
from apcert.core.errors import DomainError, PermissionDenied
from apcert.core.permissions import is_secretariat
from apcert.imports import columns as C
from apcert.imports.choices import ImportBatchStatus
from apcert.imports.errors import IMPORT_NOT_ALLOWED
from apcert.imports.models import ImportBatch
from apcert.imports.progress import progress_read
from apcert.imports.reader import FORMATS
from apcert.imports.services import (
    import_batches_visible_to,
    import_cbs_of,
    import_confirm,
    import_upload,
)
from apcert.imports.template import template
from apcert.schemes.selectors import categories, programmes_catalogue, standards_catalogue
from apcert.web.errors import add_form_error, error_page
from apcert.web.section import current_user, section
from apcert.web.sections.imports.forms import UploadForm

NO_RIGHT_TO_IMPORT = PermissionDenied(
    "Only the Secretariat, or a scheme manager or administrator of a certification body, may "
    "import certificates. Ask one of them to import the file.",
    code=IMPORT_NOT_ALLOWED,
)
TITLE = "Import certificates"
RUNNING = (ImportBatchStatus.CHECKING, ImportBatchStatus.RUNNING)


def _may_import(user: User) -> bool:
    return is_secretariat(user) or bool(import_cbs_of(user))


guarded = section("import", allowed=_may_import, refusal=NO_RIGHT_TO_IMPORT, title=TITLE)


@require_http_methods(["GET", "HEAD", "POST"])
@guarded
def import_home(request: HttpRequest) -> HttpResponse:
    """The upload form, the template and the recent imports."""
    user = current_user(request)
    form = UploadForm(
        request.POST or None, request.FILES or None, cbs=import_cbs_of(user),
        every=is_secretariat(user),
    )  # fmt: skip
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = import_upload(
                    actor=user, data=upload.read(), file_name=upload.name, cb=form.chosen_cb()
                )
            except DomainError as exc:
                add_form_error(form, exc)
            else:
                return redirect("web:imports:batch", pk=batch.pk)
        status = 400
    batches = list(import_batches_visible_to(user).order_by("-created_at", "-id")[:20])
    return render(
        request,
        "web/imports/home.html",
        {"form": form, "batches": batches, "formats": FORMATS, "title": TITLE},
        status=status,
    )


def _batch_of(request: HttpRequest, pk: int) -> ImportBatch:
    batch = import_batches_visible_to(current_user(request)).filter(pk=pk).first()
    if batch is None:
        raise Http404("No import of yours has this number.")
    return batch


@require_http_methods(["GET", "HEAD"])
@guarded
def import_batch(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: its progress while it runs, then its report row by row."""
    batch = _batch_of(request, pk)
    return render(
        request,
        "web/imports/batch.html",
        {
            "batch": batch,
            "running": batch.status in RUNNING,
            "progress": progress_read(batch.pk),
            "title": TITLE,
        },
    )


@require_http_methods(["GET", "HEAD"])
@guarded
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar (an htmx fragment, polled); when the run has ended, the page is
    reloaded to show its report."""
    batch = _batch_of(request, pk)
    response = render(
        request,
        "web/imports/_progress.html",
        {"batch": batch, "running": batch.status in RUNNING, "progress": progress_read(batch.pk)},
    )
    if batch.status not in RUNNING:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@guarded
def import_commit(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Confirm the commit of a file checked without problems."""
    batch = _batch_of(request, pk)
    try:
        import_confirm(actor=current_user(request), batch=batch)
    except DomainError as exc:
        return error_page(request, exc, title=TITLE)
    return redirect("web:imports:batch", pk=batch.pk)


@require_http_methods(["GET", "HEAD"])
@guarded
def import_template(request: HttpRequest, file_format: str) -> HttpResponse:
    if file_format not in FORMATS:
        raise Http404("The template is CSV or XLSX.")
    content_type = (
        "text/csv; charset=utf-8"
        if file_format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response = HttpResponse(template(file_format), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="apcert-import.{file_format}"'
    return response


@require_http_methods(["GET", "HEAD"])
@guarded
def import_columns(request: HttpRequest) -> HttpResponse:
    """The columns and their controlled vocabularies."""
    return render(
        request,
        "web/imports/columns.html",
        {
            "columns": C.COLUMNS,
            "statuses": C.STATUSES,
            "reasons": C.STATUS_REASONS,
            "default_reasons": C.DEFAULT_REASON,
            "programmes": programmes_catalogue(),
            "categories": categories(),
            "standards": standards_catalogue(),
            "separator": C.SEPARATOR,
            "title": TITLE,
        },
    )
