"""The stored visit schedule: the open visits of every live certificate, kept in step.

The programme of a certificate (:mod:`apcert.cycle.programme`) depends on its status, dates
and issues, on its surveillance and re-assessment assessments, and on its scheme's rules.
Working it out for every certificate on each dashboard request cost about 0.25 ms a
certificate; :class:`~apcert.cycle.models.ScheduledVisit` holds the result instead, and
:func:`visit_schedule_refresh` recomputes the rows of some certificates (delete, then insert
what the programme says now). Every service that changes one of those inputs calls it in its
own transaction; ``apcert visits-check`` compares the rows with a fresh plan and
``apcert visits-rebuild`` writes them all again.

The rules are not repeated here: :func:`cycle_start` and :func:`programme` decide, exactly
as :func:`apcert.cycle.programme.visits_for` does. The same refresh keeps the certificate's
two date facts in step with its programme: ``surveillance_due_by`` and ``lapses_on`` (see
:mod:`apcert.certificates.timeline`), which the sweep and every read of its status use.
The reads are bounded: four queries per batch of :data:`BATCH` certificates (the
certificates, the rules, their issues, their assessments; on PostgreSQL a fifth locks their
rows), then one delete and one insert (a rebuild on SQLite leaves the delete out: its first
statement emptied the table, and no other connection can write until it commits). The
rows are read as plain values into light records and written by one plain INSERT, with no
model instance built: the ORM's per-object work was most of the cost of a rebuild.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.db.models import Expression

from apcert.certificates.timeline import StatusFacts, lapses_on
from apcert.core.db import insert_rows
from apcert.cycle.programme import (
    MAX_TRANSFERS,
    REASSESSMENT,
    SURVEILLANCE,
    PlannedVisit,
    cycle_start,
    programme,
    rules_of,
    surveillance_due_by,
)

#: Certificates recomputed per batch: four reads, one delete and one insert each (fewer on
#: an SQLite library that binds fewer than twice as many parameters per statement).
BATCH = 2000
#: The fields of the scheme's rules that the programme reads: a change to any of them
#: re-plans every live certificate of the scheme.
PROGRAMME_RULE_FIELDS = (
    "first_surveillance_months",
    "surveillance_interval_months",
    "surveillance_window_days",
    "max_suspension_months",
    "suspension_end_action",
)
#: Current and suspended: the statuses whose certificates have a programme to follow (as
#: :data:`apcert.cycle.selectors.LIVE_STATUSES`).
LIVE = ("current", "suspended")

#: A visit as stored and compared: kind, sequence, due date, window start, window end.
VisitKey = tuple[str, int, dt.date, dt.date, dt.date]


@dataclass(frozen=True)
class Models:
    """The model classes read and written: the application's own, or a migration's
    historical ones (``apps.get_model``), which have the same fields."""

    certificate: Any
    issue: Any
    assessment: Any
    rules: Any
    visit: Any
    #: True with the application's models: a scheme without rules raises the domain error
    #: of :func:`rules_of`; a migration leaves such certificates without rows instead.
    strict: bool = True
    #: Whether the certificate rows have the date facts to keep (False only for the
    #: migration that ran before they existed).
    status_dates: bool = True


def current_models() -> Models:
    from apcert.assessments.models import Assessment
    from apcert.certificates.models import Certificate, CertificateIssue
    from apcert.cycle.models import ScheduledVisit
    from apcert.schemes.models import SchemeRules

    return Models(Certificate, CertificateIssue, Assessment, SchemeRules, ScheduledVisit)


def _batch_size() -> int:
    """:data:`BATCH`, or less where the SQLite library binds fewer parameters per statement
    (999 before SQLite 3.32): a batch's reads name its ids, and the certificates they were
    transferred from, in one statement."""
    if connection.vendor != "sqlite":
        return BATCH
    connection.ensure_connection()
    limit = int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return max(1, min(BATCH, limit // 2))


def _batches(ids: Iterable[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    size = _batch_size()
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _transfer_chains(certificates: list[Any], models: Models) -> dict[int, list[int]]:
    """certificate id -> the ids of the certificates it was transferred from, the first
    one first, for those of ``certificates`` taken over from another CB: one query per
    transfer in the longest chain (none when no certificate was transferred)."""
    chains = {c.pk: [c.transferred_from_id] for c in certificates if c.transferred_from_id}
    frontier = {chain[0] for chain in chains.values()}
    for _ in range(MAX_TRANSFERS):
        if not frontier:
            break
        earlier = dict(
            models.certificate.objects.filter(
                pk__in=frontier, transferred_from_id__isnull=False
            ).values_list("pk", "transferred_from_id")
        )
        for chain in chains.values():
            if chain[0] in earlier:
                chain.insert(0, earlier[chain[0]])
        frontier = set(earlier.values())
    return chains


@dataclass(slots=True)
class PlannedCertificate:
    """The columns of one live certificate that the programme and the checks read (with the
    names of :class:`~apcert.certificates.models.Certificate`'s attributes), read without
    building a model, and ``planned_dates``: the ``surveillance_due_by`` and ``lapses_on``
    that its programme and its scheme's rules make (not saved)."""

    pk: int
    number: str
    status: str
    scheme_id: int
    cb_id: int
    organization_id: int
    initial_decision_on: dt.date
    expires_on: dt.date
    status_since: dt.date
    transferred_from_id: int | None
    #: As stored (None, None when the rows do not have these columns yet).
    surveillance_due_by: dt.date | None = None
    lapses_on: dt.date | None = None
    planned_dates: tuple[dt.date | None, dt.date | None] = (None, None)


class _Issue(NamedTuple):
    """What :func:`cycle_start` reads of an issue."""

    certificate_id: int
    issue_number: int
    reason: str
    valid_until: dt.date


class _Assessment(NamedTuple):
    """What :func:`programme` reads of an assessment."""

    certificate_id: int
    pk: int
    kind: str
    status: str
    report_issued_on: dt.date | None
    end_date: dt.date


#: The certificate columns read, in :class:`PlannedCertificate`'s order.
_CERTIFICATE_COLUMNS = (
    "pk",
    "number",
    "status",
    "scheme_id",
    "cb_id",
    "organization_id",
    "initial_decision_on",
    "expires_on",
    "status_since",
    "transferred_from_id",
)


class _Ids(Expression):
    """A list of ids as the right-hand side of ``__in``: one parameter each, without the
    per-value preparation that Django gives a plain list (a few microseconds an id, which
    the thousands of ids of a batch add up). Never empty."""

    def __init__(self, ids: Iterable[int]) -> None:
        super().__init__()
        self.ids = list(ids)
        if not self.ids:
            raise ValueError("an empty list of ids")

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[str | int]]:
        return ", ".join(["%s"] * len(self.ids)), list(self.ids)


def _rows(queryset: Any) -> list[tuple[Any, ...]]:
    """The rows of a ``values_list`` query as the database driver returns them, without the
    per-row work of Django's result converters: for the columns read here (integers, text,
    dates) they change nothing, as both SQLite's driver (with the types Django registers)
    and psycopg already return dates."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def open_visits(
    ids: list[int], models: Models
) -> dict[int, tuple[PlannedCertificate, list[PlannedVisit]]]:
    """certificate id -> (certificate, its visits not yet done), for the live certificates
    among ``ids`` (the others are left out). Four queries; only the columns the programme
    reads are fetched, as light records rather than models. Each certificate gets
    ``planned_dates``: the ``surveillance_due_by`` and ``lapses_on`` that its programme and
    its scheme's rules make (not saved)."""
    columns: tuple[str, ...] = _CERTIFICATE_COLUMNS
    if models.status_dates:
        columns = (*columns, "surveillance_due_by", "lapses_on")
    # The status is checked here: with it in the query, SQLite reads every live certificate
    # of the status index instead of the batch's by primary key.
    certificates = [
        cert
        for cert in (
            PlannedCertificate(*row)
            for row in _rows(
                models.certificate.objects.filter(pk__in=_Ids(ids))
                .order_by("pk")
                .values_list(*columns)
            )
        )
        if cert.status in LIVE
    ]
    if not certificates:
        return {}
    live = [c.pk for c in certificates]
    chains = _transfer_chains(certificates, models)
    read = [*live, *{pk for chain in chains.values() for pk in chain}]
    rules = {
        r.scheme_id: r
        for r in models.rules.objects.filter(scheme_id__in={c.scheme_id for c in certificates})
    }
    # The programme's functions are typed with the models; they read only these attributes.
    issues: dict[int, list[Any]] = {}
    for issue in map(
        _Issue._make,
        _rows(
            models.issue.objects.filter(certificate_id__in=_Ids(read))
            .order_by("certificate_id", "issue_number")
            .values_list("certificate_id", "issue_number", "reason", "valid_until")
        ),
    ):
        issues.setdefault(issue.certificate_id, []).append(issue)
    assessments: dict[int, list[Any]] = {}
    for assessment in map(
        _Assessment._make,
        _rows(
            models.assessment.objects.filter(
                certificate_id__in=_Ids(read), kind__in=(SURVEILLANCE, REASSESSMENT)
            )
            .order_by("pk")
            .values_list("certificate_id", "pk", "kind", "status", "report_issued_on", "end_date")
        ),
    ):
        assessments.setdefault(assessment.certificate_id, []).append(assessment)
    found: dict[int, tuple[PlannedCertificate, list[PlannedVisit]]] = {}
    for cert in certificates:
        scheme_rules = rules.get(cert.scheme_id)
        if scheme_rules is None:
            if not models.strict:
                continue
            # raises scheme.rules_missing (read from the model, as every service does)
            scheme_rules = rules_of(models.certificate.objects.get(pk=cert.pk))
        chain = chains.get(cert.pk, [])
        start = cycle_start(
            cast(Any, cert), issues.get(cert.pk, []), [issues.get(pk, []) for pk in chain]
        )
        matched = programme(
            start=start,
            expires_on=cert.expires_on,
            rules=scheme_rules,
            assessments=[a for pk in (*chain, cert.pk) for a in assessments.get(pk, [])],
        )
        due_by = surveillance_due_by(matched, cert.status_since)
        facts = StatusFacts(
            status=cert.status,
            status_since=cert.status_since,
            expires_on=cert.expires_on,
            surveillance_due_by=due_by,
            max_suspension_months=scheme_rules.max_suspension_months,
            suspension_end_action=scheme_rules.suspension_end_action,
        )
        cert.planned_dates = (due_by, lapses_on(facts))
        found[cert.pk] = (cert, [v for v in matched if not v.done])
    return found


def _key(visit: Any) -> VisitKey:
    return (visit.kind, visit.sequence, visit.due_date, visit.window_start, visit.window_end)


#: The columns of a stored visit, by attribute name, in the order of the rows written.
_VISIT_ATTRIBUTES = (
    "certificate_id",
    "cb_id",
    "organization_id",
    "certificate_number",
    "kind",
    "sequence",
    "due_date",
    "window_start",
    "window_end",
)


#: Columns that the migrations before them do not have: their historical model is written
#: without them.
_VISIT_ATTRIBUTES_ADDED = ("certificate_number",)


def _visit_columns(models: Models) -> tuple[str, list[str], tuple[str, ...]]:
    """The table and columns the stored visits are written to (with
    :func:`apcert.core.db.insert_rows`: COPY on PostgreSQL, multi-row INSERTs on SQLite; no
    model building), and the attributes (of :data:`_VISIT_ATTRIBUTES`, in that order) whose
    values they take. Every column of the
    model but its automatic key must be one of those: a field added to the model is an error
    here until this function writes it. A migration's historical model may lack the columns
    of :data:`_VISIT_ATTRIBUTES_ADDED`."""
    meta = models.visit._meta
    fields = {f.attname: f for f in meta.concrete_fields if f is not meta.auto_field}
    written = tuple(
        name for name in _VISIT_ATTRIBUTES if name in fields or name not in _VISIT_ATTRIBUTES_ADDED
    )
    if set(fields) != set(written):
        raise ImproperlyConfigured(
            f"{meta.label}'s fields are {sorted(fields)}; the schedule writes "
            f"{sorted(written)}: update apcert.cycle.schedule for the new fields"
        )
    return meta.db_table, [fields[name].column for name in written], written


def visit_schedule_refresh(certificate_ids: Iterable[int], *, models: Models | None = None) -> int:
    """Recompute the stored visits of these certificates from their programmes; rows of a
    certificate that is no longer live are removed. Runs in the caller's transaction (one
    of its own when there is none). Returns the number of rows written."""
    models = models or current_models()
    with transaction.atomic():
        return sum(_refresh(batch, models) for batch in _batches(certificate_ids))


def _refresh(batch: list[int], models: Models, *, emptied: bool = False) -> int:
    """Recompute the stored visits of one batch of certificates; ``emptied`` when the caller
    has deleted every stored visit in this transaction and nobody else can have written one
    since (the batch's own delete is then left out). Returns the number of rows written."""
    if connection.features.has_select_for_update:
        # Two refreshes of one certificate run one after the other, each reading what the
        # other wrote (the certificate services hold this lock already). SQLite has no row
        # locks: a writer holds the whole database until it commits.
        list(
            models.certificate.objects.select_for_update()
            .filter(pk__in=_Ids(batch))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    table, columns, written = _visit_columns(models)  # first: a field it does not write is an error
    planned = open_visits(batch, models)
    if models.status_dates:
        _keep_status_dates(batch, planned, models)
    if not emptied:
        models.visit.objects.filter(certificate_id__in=_Ids(batch)).delete()
    rows: list[tuple[Any, ...]] = [
        (
            pk,
            cert.cb_id,
            cert.organization_id,
            cert.number,
            v.kind,
            v.sequence,
            v.due_date,
            v.window_start,
            v.window_end,
        )
        for pk, (cert, visits) in planned.items()
        for v in visits
    ]
    if len(written) < len(_VISIT_ATTRIBUTES):
        kept = [i for i, name in enumerate(_VISIT_ATTRIBUTES) if name in written]
        rows = [tuple(row[i] for i in kept) for row in rows]
    insert_rows(table, columns, rows)
    return len(rows)


def _keep_status_dates(
    batch: list[int],
    planned: dict[int, tuple[PlannedCertificate, list[PlannedVisit]]],
    models: Models,
) -> None:
    """Save the date facts that changed: the programme's for live certificates, none for the
    others (the calendar no longer changes their status). One statement for the changed
    rows (usually the one certificate a service changed), with no model building."""
    rows = [
        (*cert.planned_dates, pk)
        for pk, (cert, _) in planned.items()
        if (cert.surveillance_due_by, cert.lapses_on) != cert.planned_dates
    ]
    ended = [pk for pk in batch if pk not in planned]
    if ended:
        rows.extend(
            (None, None, pk)
            for pk in models.certificate.objects.filter(pk__in=ended)
            .exclude(surveillance_due_by=None, lapses_on=None)
            .values_list("pk", flat=True)
        )
    if rows:
        table = connection.ops.quote_name(models.certificate._meta.db_table)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET surveillance_due_by = %s, lapses_on = %s WHERE id = %s",
                rows,
            )


def visit_schedule_refresh_scheme(scheme_id: int) -> int:
    """Recompute the visits of every live certificate of one scheme (its rules changed)."""
    from apcert.certificates.models import Certificate

    ids = Certificate.objects.filter(scheme_id=scheme_id, status__in=LIVE).values_list(
        "pk", flat=True
    )
    return visit_schedule_refresh(list(ids))


def visit_schedule_rebuild(
    progress: Callable[[int], None] | None = None, *, models: Models | None = None
) -> int:
    """Write the whole schedule again, in one transaction (an interrupted run leaves the old
    schedule whole). ``progress`` is called with the number of certificates done after each
    batch. Returns the number of live certificates planned."""
    models = models or current_models()
    done = 0
    with transaction.atomic():
        models.visit.objects.all().delete()
        if models.status_dates:
            models.certificate.objects.exclude(status__in=LIVE).exclude(
                surveillance_due_by=None, lapses_on=None
            ).update(surveillance_due_by=None, lapses_on=None)
        ids = list(
            models.certificate.objects.filter(status__in=LIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # On SQLite the delete above took the database's only write lock, held until this
        # transaction ends: no rows can have been written since, and the batches need not
        # delete theirs. On PostgreSQL a service that committed after it may have written the
        # rows of a certificate of ``ids``: each batch deletes them under its row locks.
        emptied = connection.vendor == "sqlite"
        for batch in _batches(ids):
            _refresh(batch, models, emptied=emptied)
            done += len(batch)
            if progress is not None:
                progress(done)
    return done


def live_certificate_count() -> int:
    from apcert.certificates.models import Certificate

    return Certificate.objects.filter(status__in=LIVE).count()


def _describe(key: VisitKey) -> str:
    kind, sequence, due, start, end = key
    label = f"{kind} {sequence}" if kind == SURVEILLANCE else kind
    return f"{label} due {due.isoformat()} (window {start.isoformat()} to {end.isoformat()})"


def visit_schedule_check(progress: Callable[[int], None] | None = None) -> list[str]:
    """Compare the stored schedule with a fresh plan of every live certificate; one line per
    difference (an empty list when in step). Reads in batches, writes nothing."""
    from apcert.certificates.models import Certificate
    from apcert.cycle.models import ScheduledVisit

    models = current_models()
    problems: list[str] = []
    ids = list(
        Certificate.objects.filter(status__in=LIVE).order_by("pk").values_list("pk", flat=True)
    )
    done = 0
    for batch in _batches(ids):
        planned = open_visits(batch, models)
        stored: dict[int, list[Any]] = {}
        for row in ScheduledVisit.objects.filter(certificate_id__in=batch):
            stored.setdefault(row.certificate_id, []).append(row)
        for pk, (cert, visits) in sorted(planned.items(), key=lambda item: item[1][0].number):
            expected = {_key(v) for v in visits}
            have = {_key(row) for row in stored.get(pk, [])}
            for row in stored.get(pk, []):
                if (row.cb_id, row.organization_id) != (cert.cb_id, cert.organization_id):
                    problems.append(
                        f"{cert.number}: {row.label} stored under CB {row.cb_id} and holder "
                        f"{row.organization_id}; the certificate's are {cert.cb_id} and "
                        f"{cert.organization_id}"
                    )
                if row.certificate_number != cert.number:
                    problems.append(
                        f"{cert.number}: {row.label} stored under the number "
                        f"{row.certificate_number!r}"
                    )
            if (cert.surveillance_due_by, cert.lapses_on) != cert.planned_dates:
                problems.append(
                    f"{cert.number}: stored surveillance due by {cert.surveillance_due_by} and "
                    f"status lapses on {cert.lapses_on}; the programme says "
                    f"{cert.planned_dates[0]} and {cert.planned_dates[1]}"
                )
            for key in sorted(expected - have):
                problems.append(f"{cert.number}: missing {_describe(key)}")
            for key in sorted(have - expected):
                problems.append(f"{cert.number}: stored but not planned: {_describe(key)}")
        done += len(batch)
        if progress is not None:
            progress(done)
    for number, status, kind, sequence in (
        ScheduledVisit.objects.exclude(certificate__status__in=LIVE)
        .order_by("certificate__number", "kind", "sequence")
        .values_list("certificate__number", "certificate__status", "kind", "sequence")
    ):
        label = f"{kind} {sequence}" if kind == SURVEILLANCE else kind
        problems.append(f"{number}: {label} stored for a certificate that is {status}")
    return problems
