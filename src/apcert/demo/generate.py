"""``apcert demo-data``: a realistic, deterministic data set for the demo and for benchmarks.

The regulated setup (Secretariat, CBs, acceptances, staff) is made through the services
(:mod:`apcert.demo.setup`). Everything else is planned in Python and written in bulk
(:mod:`apcert.demo.bulk`): organizations with sites and users (:mod:`.population`), then
certificate by certificate in grant order the application, assessments, findings,
decisions, the certificate, its issues and status history (:mod:`.certificates`), following
a timeline that only takes transitions ``certificates.lifecycle`` allows (:mod:`.timeline`).

Every change of a certificate (grant, re-issue, renewal, suspension, restoration,
withdrawal, cancellation, expiry) has its audit event, shaped as the service writes it,
hash-chained from the chain's head in date order. The private steps before a grant
(application, assessment, findings) are written without an event each; one ``demo.load``
event at the end records the load and what it wrote.

The same number of certificates, seed and reference date give the same data: one seeded
generator draws everything, dates count back from the reference date (today unless another
is asked for) and nothing happens after it, every time stamp is set explicitly and the
services in the setup run under a demo clock.

Speed: rows are written in chunks of CHUNK
certificates, one transaction each, by a writer process while this one generates the next
chunk (:class:`apcert.demo.bulk.Writer`). Above FULL_RECORDS_UP_TO certificates, most
organizations get a lean private record. A run that fails leaves the chunks written so far:
start again from a fresh database. Each run is recorded (:class:`apcert.demo.models.DemoLoad`)
before its first row, so that a run stopped while writing rows is known as one and no second
set is added beside its partial data; one stopped while building the search index, the visit
schedule or the status counts is completed by ``demo-data --if-empty``.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import itertools
import pickle
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from apcert.accounts.models import User
from apcert.audit.chain import GENESIS_HASH, event_content, event_hash
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.certificates.models import Certificate, CertificateNumberSequence
from apcert.certificates.tallies import status_tallies_rebuild
from apcert.core.dates import add_months, format_datetime
from apcert.core.db import create_indexes, drop_indexes, gather_statistics, insert_rows
from apcert.core.progress import run_with_progress
from apcert.cycle.schedule import live_certificate_count, visit_schedule_rebuild
from apcert.demo.bulk import (
    Clock,
    Writer,
    json_text,
    reset_sequences,
)
from apcert.demo.certificates import CertificateWriter, Reference
from apcert.demo.dice import Dice
from apcert.demo.models import DemoLoad
from apcert.demo.population import OFFICE_SECONDS, OFFICE_START, Org, Plan, Population, slug
from apcert.demo.setup import NO_LOGIN, Person, setup_bodies
from apcert.demo.tables import Tables
from apcert.organizations.models import Organization
from apcert.register.index import index_rebuild

#: Grants fall in the YEARS before the reference date, the day the demo world stands still.
YEARS = 9
#: Certificates per transaction (and per step of the progress bar).
CHUNK = 25_000
#: Up to this many certificates every organization has a user and the full private record;
#: above, only the first DEMO_ORGANIZATIONS do, the others a lean one (see certificates.py),
#: which keeps a million-certificate load within minutes.
FULL_RECORDS_UP_TO = 20_000
DEMO_ORGANIZATIONS = 1_000
#: From this many certificates on, the writer gives SQLite a large page cache, and the
#: tables' indexes that no constraint needs are dropped for the load and made again after
#: it, each in one sorted pass (:func:`apcert.core.db.drop_indexes`).
BIG_LOAD = 50_000
CERTIFICATE_TYPE = Certificate._meta.label_lower


class DemoDataError(Exception):
    """The database is not in a state demo data can be added to."""


@dataclass
class DemoReport:
    """What a run wrote: counts by status and rows by table."""

    certificates: int
    organizations: int
    audit_events: int
    by_status: dict[str, int]
    rows: dict[str, int]
    reference_date: dt.date
    #: Seconds each phase took, in order: the rows, the tables' indexes made again after
    #: a large load, the planner's statistics of the rows, the search index, the visit
    #: schedule, the status counts, the statistics of everything.
    phases: dict[str, float] = field(default_factory=dict)


def demo_data_present() -> bool:
    """Whether the register holds any certificate (demo data fills only an empty one)."""
    return Certificate.objects.exists()


def demo_data_reference_date() -> dt.date | None:
    """The reference date of the last finished demo load, if there was one."""
    load = AuditEvent.objects.filter(action="demo.load").order_by("-seq").first()
    if load is None or not load.after or "reference_date" not in load.after:
        return None
    return dt.date.fromisoformat(load.after["reference_date"])


#: An audit event before it is chained: when, who, what, as audit_record takes them. The
#: scope lines' JSON comes along where ``after`` holds them, so as not to encode them twice.
Event = tuple[
    int, int, int | None, str, str, str, str, str, dict[str, Any] | None, dict[str, Any], str,
    str | None,
]  # fmt: skip


def _chain_rows(
    events: list[Event], head: tuple[int, str], clock: Clock
) -> tuple[list[tuple[Any, ...]], tuple[int, str]]:
    """The events' rows, each hashed over its content and the hash before it, exactly as
    audit.services.audit_record hashes (the values are JSON-ready already); and the new
    end of the chain."""
    seq, prev = head
    rows = []
    for event in events:
        ordinal, seconds, actor_id, label, action, otype, oid, orepr, before, after = event[:10]
        reason, lines_json = event[10], event[11]
        seq += 1
        digest = event_hash(
            event_content(
                seq=seq,
                occurred_at=Clock.aware(ordinal, seconds),
                actor_id=actor_id,
                actor_label=label,
                action=action,
                object_type=otype,
                object_id=oid,
                object_repr=orepr,
                before=before,
                after=after,
                reason=reason,
                prev_hash=prev,
            )
        )
        if lines_json is None:
            stored = json_text(after)
        else:  # json_text(after), reusing the scope lines' JSON
            rest = {k: v for k, v in after.items() if k != "scope_lines"}
            stored = f'{json_text(rest)[:-1]},"scope_lines":{lines_json}}}'
        rows.append(
            (
                seq, clock.moment(ordinal, seconds), actor_id, label, action, otype, oid, orepr,
                None if before is None else json_text(before), stored, reason, prev, digest,
            )
        )  # fmt: skip
        prev = digest
    return rows, (seq, prev)


def _write_batch(
    batches: list[tuple[str, list[str], list[tuple[Any, ...]]]],
    head_before: tuple[int, str],
    head_after: tuple[int, str],
    big: bool,
) -> None:
    """One transaction: the rows, and the chain head moved past the events among them."""
    if big and connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # room for the pages of big indexes
            cursor.execute("PRAGMA cache_size = -1000000")  # about 1 GB
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().get(id=1)
        if (head.last_seq, head.last_hash) != head_before:
            raise DemoDataError(
                "audit events were written by someone else while demo data was loading; "
                "load demo data into a database nobody else writes to"
            )
        for table, columns, rows in batches:
            insert_rows(table, columns, rows)
        if head_after != head_before:
            head.last_seq, head.last_hash = head_after
            head.save(update_fields=["last_seq", "last_hash"])


class _Generator:
    writer: Writer
    head: tuple[int, str]  # the end of the audit chain, as far as it is handed over
    tables: Tables

    def __init__(
        self, *, certificates: int, seed: int, reference_date: dt.date, progress: TextIO | None
    ) -> None:
        self.n = certificates
        self.seed = seed
        self.reference_date = reference_date
        self.ref_ord = reference_date.toordinal()
        self.progress = progress
        self.dice = Dice(seed)
        self.clock = Clock()
        self.pending: list[tuple[int, int, int, bytes]] = []
        self.events: list[Event] = []
        self.counter = itertools.count()
        self.by_status: Counter[str] = Counter()
        self.phases: dict[str, float] = {}

    # --- the audit chain ------------------------------------------------------------------

    def event(
        self,
        ordinal: int,
        seconds: int,
        action: str,
        cert_id: int,
        number: str,
        actor: Person | None,
        before: dict[str, Any] | None,
        after: dict[str, Any],
        reason: str,
        lines_json: str | None = None,
    ) -> None:
        """Queue a certificate's event; it is chained once every earlier one is known."""
        actor_id = actor.id if actor is not None else None
        label = actor.label if actor is not None else "system"
        event = (
            ordinal, seconds, actor_id, label, action, CERTIFICATE_TYPE, str(cert_id), number,
            before, after, reason, lines_json,
        )  # fmt: skip
        # Pickled while it waits: a million-certificate load has hundreds of thousands
        # waiting at once, at a third of the memory.
        packed = pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)
        heapq.heappush(self.pending, (ordinal, seconds, next(self.counter), packed))

    def _release(self, until: tuple[int, int] | None) -> None:
        """Pass on every queued event before ``until`` (all if None), in time order."""
        pending = self.pending
        events = self.events
        while pending and (until is None or pending[0][:2] < until):
            events.append(pickle.loads(heapq.heappop(pending)[3]))  # noqa: S301 - our own

    def _commit(self) -> None:
        """Chain the released events on, and hand them and the waiting rows to the writer."""
        events, self.events = self.events, []
        rows, head = _chain_rows(events, self.head, self.clock)
        self.tables.event.rows.extend(rows)
        batches = [(t.name, t.columns, t.take()) for t in self.tables.all]
        self.writer.submit(_write_batch, batches, self.head, head, self.n >= BIG_LOAD)
        self.head = head

    # --- organizations --------------------------------------------------------------------

    def _org_keeper(self, taken: set[str]) -> Callable[[Org], bytes]:
        """What becomes of each organization as it is planned: its rows (and its user's, for
        the first ones) are queued for writing, handed to the writer every few chunks, and
        it is kept packed (:meth:`Org.packed`), so that a million-certificate load never
        holds all its organizations as objects at once."""
        d = self.dice
        t = self.tables
        clock = self.clock
        users = self.n if self.n <= FULL_RECORDS_UP_TO else DEMO_ORGANIZATIONS
        count = itertools.count()

        def keep(org: Org) -> bytes:
            index = next(count)
            created = clock.moment(org.created, OFFICE_START + d.below(OFFICE_SECONDS))
            t.org.rows.append(
                (
                    org.id, org.name, org.country.code, org.registration_number,
                    org.registration_authority, org.address, created,
                )
            )  # fmt: skip
            for s in org.sites:
                t.site.rows.append(
                    (s["id"], org.id, s["name"], s["address"], s["city"], s["country"],
                     s["published"])
                )  # fmt: skip
            if index < users:
                first = d.pick(org.country.first_names)
                last = d.pick(org.country.last_names)
                username = f"{slug(first)}.{slug(last)}.{org.id}"
                while username in taken:
                    username += "x"
                user_id = t.next_user()
                email = f"{slug(first)}.{slug(last)}@{slug(org.name)[:24]}.example"
                t.user.rows.append(
                    (
                        user_id, NO_LOGIN, None, False, username, first, last, email,
                        False, True, created, f"{first} {last}", False,
                    )
                )  # fmt: skip
                t.member.rows.append((org.id, user_id, "admin"))
                org.user = Person(user_id, f"{username} ({first} {last})")
            if len(t.org.rows) >= 5 * CHUNK:
                self._commit()
            return org.packed()

        return keep

    # --- the whole run --------------------------------------------------------------------

    def _forced(self, plans: list[Plan]) -> dict[int, str]:
        """One certificate for each fate a small data set might otherwise miss."""
        old = add_months(self.reference_date, -37).toordinal()
        recent = add_months(self.reference_date, -30).toordinal()
        settled = self.ref_ord - 200
        wanted = {
            "expired": lambda day: day <= old,
            "renewed": lambda day: day <= old,
            "suspended": lambda day: recent <= day <= self.ref_ord - 60,
            "withdrawn": lambda day: day <= settled,
            "cancelled": lambda day: day <= settled,
            "reissued": lambda day: day <= settled,
        }
        forced: dict[int, str] = {}
        for fate, fits in wanted.items():
            candidates = [i for i, p in enumerate(plans) if fits(p.day) and i not in forced]
            if candidates:
                forced[self.dice.pick(candidates)] = fate
        return forced

    def run(self) -> DemoReport:
        start = dt.datetime(self.reference_date.year - YEARS - 1, 1, 4, 9, 0, tzinfo=dt.UTC)
        _secretariat, cbs = setup_bodies(seed=self.seed, start=start)
        reference = Reference.load()
        self.tables = tables = Tables()  # after the setup, which made users
        serials = {
            (s.cb_id, s.year): s.last_serial for s in CertificateNumberSequence.objects.all()
        }
        taken = set(
            Organization.objects.exclude(registration_number="").values_list(
                "country", "registration_number"
            )
        )
        population = Population(
            self.dice,
            cbs=cbs,
            reference_date=self.reference_date,
            years=YEARS,
            org_ids=tables.next_org,
            site_ids=tables.next_site,
            taken=taken,
        )
        usernames = set(User.objects.values_list("username", flat=True))
        head = AuditChainHead.objects.filter(id=1).first()
        if head is None:
            head = AuditChainHead.objects.create(id=1, last_seq=0, last_hash=GENESIS_HASH)
        self.head = (head.last_seq, head.last_hash)
        # A run that fails before they are made again leaves them missing, but it is
        # refused as stopped while writing its rows: its database is only fit for deletion.
        dropped = drop_indexes(t.name for t in tables.all) if self.n >= BIG_LOAD else []
        # From here until the writer is closed, this process leaves the database alone.
        started = time.monotonic()
        self.writer = Writer(parallel=not connection.in_atomic_block)
        try:
            orgs, plans = population.plan(
                self.n, keep=self._org_keeper(usernames), progress=self.progress
            )
            self._commit()  # the last organizations
            forced = self._forced(plans)
            certificates = CertificateWriter(
                dice=self.dice,
                clock=self.clock,
                tables=tables,
                reference=reference,
                reference_date=self.reference_date,
                cbs=cbs,
                orgs=orgs,
                serials=serials,
                event=self.event,
            )
            bar = tqdm(
                total=self.n,
                desc="certificates",
                unit="cert",
                file=self.progress,
                disable=self.progress is None,
                mininterval=0.5,
            )
            with bar:
                for first in range(0, self.n, CHUNK):
                    chunk = plans[first : first + CHUNK]
                    for offset, plan in enumerate(chunk):
                        self._release((plan.day, plan.seconds))
                        status = certificates.write(plan, forced.get(first + offset))
                        self.by_status[status] += 1
                    self._commit()
                    bar.update(len(chunk))
            self._release(None)
            self._summary(len(orgs))
            self._commit()
        finally:
            self.writer.close()
        self.phases["rows"] = time.monotonic() - started
        if dropped:
            started = time.monotonic()
            create_indexes(dropped)
            self.phases["table indexes"] = time.monotonic() - started
        with transaction.atomic():
            for (cb_id, year), last in sorted(serials.items()):
                CertificateNumberSequence.objects.update_or_create(
                    cb_id=cb_id, year=year, defaults={"last_serial": last}
                )
            reset_sequences(tables.all)
        return DemoReport(
            certificates=self.n,
            organizations=len(orgs),
            audit_events=tables.event.written,
            by_status=dict(sorted(self.by_status.items())),
            rows={t.name: t.written for t in tables.all},
            reference_date=self.reference_date,
            phases=self.phases,
        )

    def _summary(self, organizations: int) -> None:
        """The demo.load event: what was generated, by the system, after the last change."""
        rows = {t.name: t.written + len(t.rows) for t in self.tables.all}
        rows[self.tables.event.name] += len(self.events) + 1
        after = {
            "certificates": self.n,
            "seed": self.seed,
            "reference_date": self.reference_date.isoformat(),
            "organizations": organizations,
            "by_status": dict(sorted(self.by_status.items())),
            "rows": rows,
        }
        self.events.append(
            (
                self.ref_ord, 23 * 3600 + 59 * 60, None, "system", "demo.load", "demo.dataset",
                f"seed-{self.seed}", f"demo data: {self.n} certificates, seed {self.seed}", None,
                after, "demo data generated in bulk (apcert demo-data)", None,
            )
        )  # fmt: skip


def demo_data_generate(
    *,
    certificates: int,
    seed: int,
    reference_date: dt.date | None = None,
    progress: TextIO | None = None,
) -> DemoReport:
    """Build the demo data set, with nothing after ``reference_date`` (today's local date
    when not given). Refuses a database that already holds certificates."""
    if reference_date is None:
        reference_date = timezone.localdate()
    if certificates < 1:
        raise DemoDataError("ask for at least one certificate")
    stopped = demo_load_stopped_in_rows()
    if stopped is not None:
        raise DemoDataError(stopped)
    if demo_data_present():
        raise DemoDataError(
            f"the register already holds {Certificate.objects.count()} certificates; demo "
            "data is only added to an empty one"
        )
    generator = _Generator(
        certificates=certificates, seed=seed, reference_date=reference_date, progress=progress
    )
    # Millions of long-lived objects and no reference cycles: the cyclic collector would
    # only walk them again and again.
    collecting = gc.isenabled()
    gc.disable()
    monitor = tqdm.monitor_interval
    tqdm.monitor_interval = 0  # no progress-bar thread in a process that forks
    # Written (and committed) before the first row: a run stopped while writing its rows
    # is then known as one, and no second set is added beside its partial data.
    load = DemoLoad.objects.create(started_at=timezone.now(), certificates=certificates, seed=seed)
    try:
        report = generator.run()
        DemoLoad.objects.filter(pk=load.pk).update(rows_written_at=timezone.now())
        for phase, build in (
            # PostgreSQL's planner must know the rows before the builds read them: planned
            # as the empty tables they were, they are read by sequential scans (the visit
            # schedule of a million took 523 s instead of 169).
            ("row statistics", gather_statistics),
            ("search index", lambda: rebuild_search_index(progress)),
            ("visit schedule", lambda: rebuild_visit_schedule(progress)),
            ("status counts", status_tallies_rebuild),
            ("statistics", lambda: gather_statistics(vacuum=True)),
        ):
            started = time.monotonic()
            build()
            report.phases[phase] = time.monotonic() - started
        DemoLoad.objects.filter(pk=load.pk).update(finished_at=timezone.now())
        return report
    finally:
        tqdm.monitor_interval = monitor
        if collecting:
            gc.enable()


def demo_load_stopped_in_rows() -> str | None:
    """Why no demo data can be added: an earlier run stopped before it had written all its
    rows (killed, or failed), whose partial data cannot be completed; else ``None``."""
    stopped = DemoLoad.objects.filter(rows_written_at__isnull=True).order_by("-pk").first()
    if stopped is None:
        return None
    return (
        f"an earlier run (started {format_datetime(stopped.started_at)}, "
        f"{stopped.certificates} certificates, seed {stopped.seed}) stopped while writing its "
        "rows; its partial data cannot be completed. Delete the database (with SQLite, "
        "the apcert.sqlite3 file under APCERT_VAR_DIR) and run demo-data again"
    )


def demo_derived_missing() -> list[str]:
    """What a bulk load builds after its rows and is not there: each is built in one
    transaction, so a load stopped while building it left it empty, not half made."""
    from apcert.certificates.models import CertificateStatusChange, StatusTally
    from apcert.cycle.models import ScheduledVisit
    from apcert.register.models import SearchEntry

    missing = []
    if Certificate.objects.exclude(status="draft").exists() and not SearchEntry.objects.exists():
        missing.append("search index")
    if live_certificate_count() and not ScheduledVisit.objects.exists():
        missing.append("visit schedule")
    if CertificateStatusChange.objects.exists() and not StatusTally.objects.exists():
        missing.append("status counts")
    return missing


def demo_derived_complete(missing: list[str], progress: TextIO | None) -> None:
    """Build what :func:`demo_derived_missing` found missing, with the planner's statistics
    before and after."""
    gather_statistics()
    if "search index" in missing:
        rebuild_search_index(progress)
    if "visit schedule" in missing:
        rebuild_visit_schedule(progress)
    if "status counts" in missing:
        status_tallies_rebuild()
    gather_statistics(vacuum=True)
    DemoLoad.objects.filter(finished_at__isnull=True).update(finished_at=timezone.now())


def rebuild_search_index(progress: TextIO | None) -> int:
    """Build the register's search index over everything loaded (the bulk path bypasses the
    services, which keep the index in step one certificate at a time)."""
    total = Certificate.objects.exclude(status="draft").count()
    return run_with_progress(progress, total=total, desc="search index", run=index_rebuild)


def rebuild_visit_schedule(progress: TextIO | None) -> int:
    """Plan the open visits of every live certificate loaded (the bulk path bypasses the
    services, which keep the schedule in step one certificate at a time)."""
    return run_with_progress(
        progress,
        total=live_certificate_count(),
        desc="visit schedule",
        run=visit_schedule_rebuild,
    )
