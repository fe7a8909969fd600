"""The import screen: upload a register file, read its dry run row by row, confirm, follow
the commit; the template, the column documentation and who may use them. The worker's runs
are done at once here (django-tasks' immediate backend)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apcert.certificates.models import Certificate
from apcert.imports.choices import ImportBatchStatus
from apcert.imports.errors import (
    IMPORT_BATCH_NOT_CHECKED,
    IMPORT_NOT_ALLOWED,
    IMPORT_STATUS_UNKNOWN,
)
from apcert.imports.models import ImportBatch
from apcert.imports.progress import ProgressFile
from tests.factories import World
from tests.import_support import csv_file, row, xlsx_file

pytestmark = pytest.mark.django_db

HOME = "/office/import/"
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _runs_at_once(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.TASKS = IMMEDIATE
    settings.VAR_DIR = tmp_path


def text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def upload(client: Client, data: bytes, cb: str, name: str = "register.csv"):  # type: ignore[no-untyped-def]
    return client.post(HOME, {"file": SimpleUploadedFile(name, data), "cb": cb})


def test_a_file_with_problems_is_reported_row_by_row_and_nothing_is_written(
    client: Client, world: World
) -> None:
    client.force_login(world.team.manager)
    cb = world.team.cb.code

    response = upload(client, csv_file([row(cb, 1), row(cb, 2, status="lapsed")]), cb)

    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert response["Location"] == f"{HOME}{batch.pk}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    words = text(page)
    assert "State: not written" in words and "the file has 1 problem" in words
    assert f"3 status {IMPORT_STATUS_UNKNOWN}" in words
    assert "Write the certificates" not in words
    assert not Certificate.objects.exists()
    # nothing to confirm
    refused = client.post(f"{HOME}{batch.pk}/commit")
    assert refused.status_code == 409
    assert IMPORT_BATCH_NOT_CHECKED in text(refused)
    assert not Certificate.objects.exists()


def test_a_good_file_is_checked_then_written_on_confirmation_and_once_only(
    client: Client, world: World
) -> None:
    client.force_login(world.team.manager)
    cb = world.team.cb.code
    data = xlsx_file([row(cb, 1), row(cb, 2)])

    batch_page = client.get(upload(client, data, cb, "register.xlsx")["Location"])

    assert "Write the certificates" in text(batch_page)
    assert "Writing it adds 2 certificates and corrects 0" in text(batch_page)
    assert not Certificate.objects.exists()
    batch = ImportBatch.objects.get()
    assert batch.status == ImportBatchStatus.CHECKED
    done = client.post(f"{HOME}{batch.pk}/commit")
    assert done.status_code == 302
    batch.refresh_from_db()
    assert batch.status == ImportBatchStatus.COMMITTED and batch.new == 2
    assert batch.content is None
    assert Certificate.objects.count() == 2
    assert "Written: 2 new certificates" in text(client.get(done["Location"]))
    # the confirmation again is refused, and the same file again writes nothing
    again = client.post(f"{HOME}{batch.pk}/commit")
    assert again.status_code == 409 and IMPORT_BATCH_NOT_CHECKED in text(again)
    second = client.get(upload(client, data, cb, "register.xlsx")["Location"])
    assert "nothing to write" in text(second)
    assert Certificate.objects.count() == 2


def test_the_progress_is_shown_while_a_run_goes_on_and_the_page_reloads_at_its_end(
    client: Client, world: World
) -> None:
    client.force_login(world.secretariat)
    upload(client, csv_file([row(world.team.cb.code, 1)]), "")
    batch = ImportBatch.objects.get()
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatchStatus.RUNNING)
    ProgressFile(batch.pk)("write", 1200, 5000)

    page = client.get(f"{HOME}{batch.pk}/")
    fragment = client.get(f"{HOME}{batch.pk}/progress")

    for response in (page, fragment):
        content = response.content.decode()
        assert '<progress max="5000" value="1200">' in content
        assert 'hx-trigger="every 1s"' in content
    assert "HX-Refresh" not in fragment
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatchStatus.COMMITTED)
    ended = client.get(f"{HOME}{batch.pk}/progress")
    assert ended["HX-Refresh"] == "true"
    assert "hx-trigger" not in ended.content.decode()


def test_the_screens_are_for_the_secretariat_and_the_cbs_importers_only(
    client: Client, world: World
) -> None:
    client.force_login(world.team.assessor)
    refused = client.get(HOME)
    assert refused.status_code == 403
    assert IMPORT_NOT_ALLOWED in text(refused)
    # a manager is offered their CB only; the Secretariat every CB too
    client.force_login(world.team.manager)
    home = client.get(HOME).content.decode()
    assert f'value="{world.team.cb.code}"' in home and "Every certification body" not in home
    client.force_login(world.secretariat)
    assert "Every certification body" in client.get(HOME).content.decode()
    # the Secretariat's and the CB's navigation lead here
    assert HOME in client.get("/office/secretariat/").content.decode()


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_template_and_the_column_documentation(
    client: Client, world: World, file_format: str
) -> None:
    client.force_login(world.team.manager)
    template = client.get(f"{HOME}template.{file_format}")
    assert template.status_code == 200
    assert f"apcert-import.{file_format}" in template["Content-Disposition"]
    columns = text(client.get(f"{HOME}columns"))
    for name in ("granted_on", "status_since", "last_surveillance_on", "EPL.NIAU", "AP-CAP"):
        assert name in columns
    assert client.get(f"{HOME}template.pdf").status_code == 404
