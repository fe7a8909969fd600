"""PostgreSQL: the word index in bands of entry ids (apcert.register.word_bands).

A partial GIN index for each band of consecutive entry ids, one band past the highest, so
that a search reads the bands in turn and stops when it has the matches it shows, instead of
building the bitmap of every match of a common word first. The bands are made by the same
function the worker's upkeep and a rebuild of the index call; it makes what is missing and
nothing else. SQLite: nothing to do (FTS5 stops at the limit by itself).
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from apcert.register.word_bands import ensure_word_bands

    ensure_word_bands(concurrently=False)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'i'"
            " AND relname LIKE 'register_search_doc_band_%%'"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("register", "0011_kept_certificate_pdf")]

    operations = [migrations.RunPython(forward, backward)]
