"""The CSV rows the index keeps write a cell that a spreadsheet would run as a formula (one
that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) with a leading
single quote; the rows kept before are written again.

Only a row with such a cell can change. In the CSV text a cell begins the row or follows a
comma, and one that needed quoting begins with a double quote, so the database finds the
candidates itself, in one walk along the primary key a chunk at a time (``certificate_id >
last ... LIMIT``), with a few LIKE patterns: a million rows are read once by the database
and only the few candidates reach Python. Each candidate's row is made again from its
stored document (``apcert.register.exports.csv_line``, what a fresh build writes) and
written if it differs; a pattern that matched inside a cell (``a,-b``) changes nothing. A
second run changes nothing. Backwards: nothing to do (a quoted cell is still the same text
to a reader).
"""

import orjson
from django.db import migrations

CHUNK = 2_000

#: What a spreadsheet takes for the start of a formula, as it stood when this was written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A cell that begins like a formula: at the start of the row or after a comma, quoted or not.
PATTERNS = [
    pattern
    for start in FORMULA_STARTS
    for pattern in (f"{start}%", f'"{start}%', f"%,{start}%", f'%,"{start}%')
]


def quote_formula_cells(apps, schema_editor):
    from apcert.register.exports import csv_line

    matches = " OR ".join(["csv_row LIKE %s"] * len(PATTERNS))
    last = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT certificate_id, document, csv_row FROM register_searchentry"
                f" WHERE certificate_id > %s AND csv_row IS NOT NULL AND ({matches})"
                " ORDER BY certificate_id LIMIT %s",
                [last, *PATTERNS, CHUNK],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            changed = []
            for pk, document, kept in rows:
                made = csv_line(orjson.loads(document))
                if made != kept:
                    changed.append((made, pk))
            if changed:
                cursor.executemany(
                    "UPDATE register_searchentry SET csv_row = %s WHERE certificate_id = %s",
                    changed,
                )
            last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [("register", "0009_word_index_no_pending_list")]

    operations = [
        migrations.RunPython(quote_formula_cells, migrations.RunPython.noop),
    ]
