"""The search index of the public register: public fields only, one entry per certificate.

Written only by :mod:`apcert.register.index`, in the same transaction as the certificate
change it reflects; read only by :mod:`apcert.register.search` and the public read paths.
A draft never has an entry. Beside these tables the word index is a database-specific
structure made by migration 0001: an FTS5 table on SQLite, a ``tsvector`` column with a GIN
index on PostgreSQL, and a trigram index over :class:`SearchWord` for typos on both.
"""

from __future__ import annotations

from django.db import models


class SearchEntry(models.Model):
    """One public certificate as the search sees it: its public fields, flattened from the
    certificate row and its latest issue."""

    certificate = models.OneToOneField(
        "certificates.Certificate",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="search_entry",
    )
    number = models.CharField(max_length=40)
    #: The number upper-cased with everything but letters and digits dropped, so that
    #: ``iecq-a xx 26.0001`` and ``IECQ-A XX 26.0001`` find the same certificate.
    number_key = models.CharField(max_length=40, db_index=True)
    holder_name = models.CharField(max_length=300)
    #: The holder name folded (no case, no accents), for sorting and exact-name ranking.
    holder_key = models.CharField(max_length=300)
    country = models.CharField(max_length=2)
    organization_id = models.IntegerField(db_index=True)
    cb_code = models.CharField(max_length=8)
    cb_name = models.CharField(max_length=200)
    scheme_code = models.CharField(max_length=10)
    status = models.CharField(max_length=20)
    status_since = models.DateField()
    expires_on = models.DateField()
    #: Space-separated codes, for display in result lists (filters use SearchFacet).
    programmes = models.TextField()
    categories = models.TextField()
    #: Cities of the published sites, one per line.
    cities = models.TextField()
    #: The certificate API answer, serialized (apcert.register.documents).
    document = models.TextField()
    #: The certificate's row of the CSV export, line end included, made from ``document``
    #: (apcert.register.exports.csv_line). Nullable because SQLite adds a NOT NULL column
    #: only by copying the whole table; the migration that adds it fills it. An entry
    #: without one has its row made by the export.
    csv_row = models.TextField(null=True)  # noqa: DJ001

    class Meta:
        indexes = [
            models.Index(fields=["holder_key", "number"], name="register_entry_holder"),
            models.Index(fields=["expires_on", "number"], name="register_entry_expires"),
            models.Index(fields=["status_since", "number"], name="register_entry_changed"),
            models.Index(fields=["number"], name="register_entry_number"),
            # Relevance ranks up to a thousand matches by number and holder name: read from
            # this narrow index, not from the entry rows, which carry the whole document.
            models.Index(
                fields=["certificate", "holder_key", "number_key", "number"],
                name="register_entry_rank",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class SearchFacet(models.Model):
    """One filter value of an entry: (``country``, ``DE``), (``category``, ``PWB.PLT``)..."""

    #: No index of its own: the unique (entry, facet, value) one starts with it.
    entry = models.ForeignKey(
        SearchEntry, on_delete=models.CASCADE, related_name="facets", db_index=False
    )
    facet = models.CharField(max_length=12)
    value = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "facet", "value"], name="register_facet_unique"
            )
        ]
        indexes = [models.Index(fields=["facet", "value", "entry"], name="register_facet_lookup")]

    def __str__(self) -> str:
        return f"{self.facet}={self.value}"


class SearchFacetTotal(models.Model):
    """How many entries have a filter value: the counts of a search with no words and no
    filters, which would otherwise mean counting the whole register. Kept by the index."""

    facet = models.CharField(max_length=12)
    value = models.CharField(max_length=100)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["facet", "value"], name="register_facet_total_unique"),
            models.CheckConstraint(
                condition=models.Q(count__gte=0), name="register_facet_total_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facet}={self.value}: {self.count}"


class SearchWord(models.Model):
    """A word that occurs in the index (folded), for correcting typos in search words."""

    word = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.word


class KeptCertificatePdf(models.Model):
    """The certificate PDF of one issue as it was last drawn, kept so that the next download
    of the same facts is read rather than drawn again (a tenth of a second of a core each).
    ``digest`` names the facts it was drawn from (:mod:`apcert.documents.pdf_store`); a
    download whose facts differ draws anew and replaces the row, so an issue has at most
    one. Derived data: any row may be deleted at any time, and is drawn again when asked
    for. Kept in the database so that every app server finds what any other drew."""

    issue = models.OneToOneField(
        "certificates.CertificateIssue",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    digest = models.CharField(max_length=64)
    content = models.BinaryField()
    drawn_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"kept PDF of issue {self.issue_id} ({self.digest})"
