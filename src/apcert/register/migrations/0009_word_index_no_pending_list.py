"""PostgreSQL: the GIN word index takes each write into the index itself, and the list of
pending entries it has gathered is merged into it now.

With GIN's default ``fastupdate``, new entries wait in a pending list, unsorted, until it
passes ``gin_pending_list_limit`` (4 MB) or a vacuum merges it, and every search reads that
whole list besides the index. A bulk load left 250 to 450 pages in it (at 100,000 and at
1,000,000 certificates), and a search for a rare word read about 460 pages instead of 20:
27 ms instead of 0.3 ms. Certificates change one at a time, a few a minute at most, so each
change updating the index directly costs little; a rebuild makes the index afresh after its
rows are written. SQLite: nothing to do.
"""

from django.db import migrations

POSTGRES_FORWARD = [
    "ALTER INDEX register_search_doc_gin SET (fastupdate = off)",
    "SELECT gin_clean_pending_list('register_search_doc_gin'::regclass)",
]
POSTGRES_BACKWARD = [
    "ALTER INDEX register_search_doc_gin RESET (fastupdate)",
]


def _run(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("register", "0008_csv_row")]

    operations = [migrations.RunPython(_run(POSTGRES_FORWARD), _run(POSTGRES_BACKWARD))]
