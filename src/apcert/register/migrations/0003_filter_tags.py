"""Filter values in the word index, as tokens (``apcert.register.index.filter_tag``).

A search with filters used to look each candidate up in ``register_searchfacet``, once per
filter: at a million certificates that was the slowest part of the search. With the values
in the word index, FTS5 on SQLite and the GIN index on PostgreSQL intersect them with the
words and with each other.

Besides one token per filter value, each entry has one for its country and status together
(``apcert.register.index.pair_tag``).

SQLite: FTS5 cannot add a column, so the table is made again with a ``tags`` column and
filled from the old one and the filter rows, then optimized. PostgreSQL: the tags are
appended to each ``tsvector``. Both compute the token as ``filter_tag`` does: the facet
name, ``x``, and the value's UTF-8 bytes in lower-case hex.
"""

from django.db import migrations

_SQLITE_TAGS = (
    "(SELECT group_concat(g.facet || 'x' || lower(hex(g.value)), ' ')"
    " FROM register_searchfacet g WHERE g.entry_id = f.rowid)"
    " || (SELECT ' countrystatusx' || lower(hex(e.country || ' ' || e.status))"
    " FROM register_searchentry e WHERE e.certificate_id = f.rowid)"
)
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE register_search_fts_new USING fts5("
    "number, holder, places, scope, tags, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO register_search_fts_new (rowid, number, holder, places, scope, tags)"
    f" SELECT f.rowid, f.number, f.holder, f.places, f.scope, coalesce({_SQLITE_TAGS}, '')"
    " FROM register_search_fts f ORDER BY f.rowid",
    "DROP TABLE register_search_fts",
    "ALTER TABLE register_search_fts_new RENAME TO register_search_fts",
    "INSERT INTO register_search_fts (register_search_fts) VALUES ('optimize')",
]
SQLITE_BACKWARD = [
    "CREATE VIRTUAL TABLE register_search_fts_old USING fts5("
    "number, holder, places, scope, tokenize = 'unicode61 remove_diacritics 2')",
    "INSERT INTO register_search_fts_old (rowid, number, holder, places, scope)"
    " SELECT rowid, number, holder, places, scope FROM register_search_fts",
    "DROP TABLE register_search_fts",
    "ALTER TABLE register_search_fts_old RENAME TO register_search_fts",
]
POSTGRES_FORWARD = [
    "UPDATE register_search_doc d SET document = d.document || coalesce(("
    "SELECT string_agg(g.facet || 'x' || encode(convert_to(g.value, 'UTF8'), 'hex'), ' ')"
    " FROM register_searchfacet g WHERE g.entry_id = d.entry_id)::tsvector, ''::tsvector)"
    " || coalesce((SELECT ('countrystatusx' || encode(convert_to(e.country || ' ' || e.status,"
    " 'UTF8'), 'hex'))::tsvector FROM register_searchentry e"
    " WHERE e.certificate_id = d.entry_id), ''::tsvector)",
]
POSTGRES_BACKWARD = [
    "UPDATE register_search_doc SET document = ts_delete(document, ARRAY(SELECT lexeme"
    " FROM unnest(document) WHERE lexeme ~ '^(status|scheme|programme|category|standard"
    "|country|cb|countrystatus)x[0-9a-f]+$'))",
]


def _run(statements: dict[str, list[str]]):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("register", "0002_word_index")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
