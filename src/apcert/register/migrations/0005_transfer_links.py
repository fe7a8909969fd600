"""The stored certificate documents gain ``transferred_from`` and ``transferred_to``.

The API's certificate answer names the other certificate of a transfer both ways. The index
stores that answer for each certificate (``register_searchentry.document``) and the API's
fast path sends it as stored, so a document written before this change must gain both keys:

- every document without them gets both as ``null`` (the keys end the document, as
  ``apcert.register.documents.document_of`` writes them), in one statement;
- then the few certificates a transfer links have theirs filled in: the other
  certificate's number and the address of its public page, under ``SITE_URL``.

The result is what a fresh build writes (``apcert reindex --check`` finds no difference).
Backwards: both keys are taken off again.
"""

import json
from urllib.parse import quote

from django.conf import settings
from django.db import migrations

_NULLS = ',"transferred_from":null,"transferred_to":null}'
_MARK = '%"transferred_to":%'


def _link(number):
    url = f"{str(settings.SITE_URL).rstrip('/')}/certificates/{quote(number, safe='')}"
    return {"number": number, "url": url}


def add_links(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        # A document is a JSON object written compactly: it ends with its closing brace.
        cursor.execute(
            "UPDATE register_searchentry"
            " SET document = substr(document, 1, length(document) - 1) || %s"
            " WHERE document NOT LIKE %s",
            [_NULLS, _MARK],
        )
    Certificate = apps.get_model("certificates", "Certificate")
    SearchEntry = apps.get_model("register", "SearchEntry")
    pairs = (
        Certificate.objects.filter(transferred_from__isnull=False)
        .exclude(status="draft")
        .exclude(transferred_from__status="draft")
        .values_list("pk", "number", "transferred_from_id", "transferred_from__number")
    )
    links = {}
    for pk, number, old_pk, old_number in pairs:
        links.setdefault(pk, {})["transferred_from"] = _link(old_number)
        links.setdefault(old_pk, {})["transferred_to"] = _link(number)
    for entry in SearchEntry.objects.filter(pk__in=links).only("pk", "document"):
        document = json.loads(entry.document)
        document.update(links[entry.pk])
        entry.document = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        entry.save(update_fields=["document"])


def remove_links(apps, schema_editor):
    SearchEntry = apps.get_model("register", "SearchEntry")
    for entry in SearchEntry.objects.filter(document__contains='"transferred_to":').only(
        "pk", "document"
    ):
        document = json.loads(entry.document)
        document.pop("transferred_from", None)
        document.pop("transferred_to", None)
        entry.document = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        entry.save(update_fields=["document"])


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0002_issues_append_only"),
        ("register", "0004_rank_index"),
    ]

    operations = [migrations.RunPython(add_links, remove_links, elidable=False)]
