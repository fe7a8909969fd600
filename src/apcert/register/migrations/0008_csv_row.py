"""Each index entry keeps its certificate's row of the CSV export beside its document, so
that the export writes stored rows as it writes stored documents.

The column is added empty (NULL: no copy of the table), then every existing entry gets the
row made from its stored document (``apcert.register.exports.csv_line``), a chunk of entries
at a time. The result is what a fresh build writes (``apcert reindex --check`` finds no
difference). Backwards: the column is dropped.
"""

import orjson
from django.db import migrations, models

CHUNK = 2_000


def fill_rows(apps, schema_editor):
    from apcert.register.exports import csv_line

    last = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT certificate_id, document FROM register_searchentry"
                " WHERE certificate_id > %s ORDER BY certificate_id LIMIT %s",
                [last, CHUNK],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            cursor.executemany(
                "UPDATE register_searchentry SET csv_row = %s WHERE certificate_id = %s",
                [(csv_line(orjson.loads(document)), pk) for pk, document in rows],
            )
            last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("register", "0007_facet_entry_no_own_index")]

    operations = [
        migrations.AddField(
            model_name="searchentry",
            name="csv_row",
            field=models.TextField(null=True),
        ),
        migrations.RunPython(fill_rows, migrations.RunPython.noop),
    ]
