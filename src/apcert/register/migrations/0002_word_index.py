"""The word index of the public register search, which Django models cannot express.

SQLite: two FTS5 tables, ``register_search_fts`` (one row per entry, rowid = the entry's
certificate id; columns number, holder, places, scope) and ``register_search_words`` (the
trigram index of SearchWord, rowid = its id). PostgreSQL: ``register_search_doc`` (one
weighted ``tsvector`` per entry, GIN-indexed) and a pg_trgm GIN index on SearchWord.word.
The doc table has no foreign key on purpose: test flushes truncate the Django tables only,
and the index code deletes a stale row before it writes one for the same certificate.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE register_search_fts USING fts5("
    "number, holder, places, scope, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE register_search_words USING fts5(word, tokenize = 'trigram')",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS register_search_words",
    "DROP TABLE IF EXISTS register_search_fts",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE TABLE register_search_doc (entry_id integer PRIMARY KEY, document tsvector NOT NULL)",
    "CREATE INDEX register_search_doc_gin ON register_search_doc USING gin (document)",
    "CREATE INDEX register_searchword_trgm ON register_searchword USING gin (word gin_trgm_ops)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS register_searchword_trgm",
    "DROP TABLE IF EXISTS register_search_doc",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("register", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
