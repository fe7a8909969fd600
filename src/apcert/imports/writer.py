"""Writing a checked plan, inside the caller's one transaction: all of it or nothing.

New certificates are written in batches of BATCH, each table's rows of a batch in one bulk
insert: holders and sites the register does not know yet, an accepted application with its
programmes and scope lines (the record a certificate rests on), the certificate with the
number, dates and status the file gives, issue 1 (its snapshot made as the grant makes it),
its status history (granted on the grant date; then, for a certificate no longer current,
the change to its status on its date, by the lifecycle's action) and one audit event
``certificate.import`` each. Then, for the batch, what is derived from certificates: their
places in the status lists, their visit schedule, and the signed credential of each issue,
with the CB's current key as a grant signs it; and for the whole import the register's
search index, the status tallies and the number sequences (so that no later grant takes an
imported serial).

A changed certificate (an earlier import wrote it, the file now says otherwise) is written
through the certificate services' own steps, one at a time: its status by the lifecycle's
one road, a new issue when what it says changed (announcing only the difference), its
holder, sites and scope lines corrected, one audit event ``certificate.import_update``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.utils import timezone

from apcert.applications.choices import ApplicationStatus
from apcert.applications.models import Application, ScopeLine
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.audit.services import audit_record, audit_record_many
from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus, IssueReason, StatusReason
from apcert.certificates.derived import certificate_changed
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.certificates.numbering import number_sequences_reach
from apcert.certificates.selectors import certificate_last_issue
from apcert.certificates.services.transition import (
    certificate_lock,
    certificate_state,
    certificate_transition,
)
from apcert.certificates.snapshots import FIRST_ISSUE, change_summary, issue_content
from apcert.certificates.tallies import tally_status_changes_many
from apcert.core.dates import today
from apcert.core.db import insert_rows
from apcert.credentials.services import credentials_sign_issues
from apcert.cycle.programme import SURVEILLANCE, PlannedVisit, programme, visits_for
from apcert.cycle.schedule import visit_schedule_refresh
from apcert.cycle.selectors import LIVE_STATUSES
from apcert.imports.models import ImportBatch, ImportedCertificate
from apcert.imports.plan import Plan, Planned, status_action
from apcert.imports.validate import holder_key
from apcert.organizations.models import Organization, Site
from apcert.register.index import index_certificates_many
from apcert.schemes.models import ProcessCategory, Programme, Scheme, SchemeRules, Standard
from apcert.statuslists.services import status_entries_allocate_many

if TYPE_CHECKING:
    from apcert.accounts.models import User

#: Certificates a batch of bulk inserts.
BATCH = 2000
#: ``progress(phase, done, total)``.
Progress = Callable[[str, int, int], None]

IMPORT_REASON = "imported from the earlier register"
SURVEILLANCE_SUMMARY = "Surveillance recorded by the earlier register (imported)."


def surveillance_days(visits: list[PlannedVisit], last: dt.date) -> list[dt.date]:
    """The days on which to record the not yet done surveillance visits whose window opened
    by ``last``: each on its due date, the last on ``last`` when it falls in that visit's
    window (a day after its window would leave it missed)."""
    due = [v for v in visits if v.kind == SURVEILLANCE and not v.done and v.window_start <= last]
    days = [v.due_date for v in due]
    if due and due[-1].window_start <= last <= due[-1].window_end:
        days[-1] = last
    return days


def _midday(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tzinfo=dt.UTC)


STATUS_CHANGE_FIELDS = (
    "certificate", "from_status", "to_status", "effective_on", "reason_category", "reason",
    "decision", "recorded_at",
)  # fmt: skip


def _insert(
    model: type[models.Model], fields: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Rows of ``model`` (values as the database takes them, in the order of ``fields``)
    by :func:`apcert.core.db.insert_rows`: several times faster than ``bulk_create`` for
    the rows whose ids nothing here needs back."""
    opts = model._meta
    insert_rows(opts.db_table, [str(getattr(opts.get_field(f), "column", f)) for f in fields], rows)


def _insert_pairs(
    through: type[models.Model], fields: tuple[str, str], rows: list[tuple[int, int]]
) -> None:
    _insert(through, fields, rows)


class Reference:
    """The reference rows a write names, read once."""

    def __init__(self) -> None:
        self.cbs = {cb.code: cb for cb in CertificationBody.objects.all()}
        self.programmes = {p.code: p for p in Programme.objects.all()}
        self.categories = {c.code: c for c in ProcessCategory.objects.all()}
        self.standards = {s.reference: s for s in Standard.objects.all()}
        self.rules = {r.scheme_id: r for r in SchemeRules.objects.all()}
        self.schemes = {scheme.pk: scheme for scheme in Scheme.objects.all()}


def _holder_snapshot(holder: dict[str, Any]) -> dict[str, Any]:
    # As certificates.snapshots.holder_snapshot makes it of the organization.
    return {
        "name": holder["name"],
        "country": holder["country"],
        "registration_number": holder["registration_number"],
        "registration_authority": holder["registration_authority"],
    }


def _site_snapshot(site_id: int, site: dict[str, Any]) -> dict[str, Any]:
    # As certificates.snapshots.site_snapshot makes it of the site.
    return {
        "id": site_id,
        "name": site["name"],
        "address": site["address"],
        "city": site["city"],
        "country": site["country"],
        "published": site["published"],
    }


class PlanWriter:
    def __init__(self, *, actor: User, plan: Plan, batch: ImportBatch, progress: Progress | None):
        self.actor = actor
        self.plan = plan
        self.batch = batch
        self.progress = progress or (lambda phase, done, total: None)
        self.ref = Reference()
        self.rules = self.ref.rules
        self.now = timezone.now()
        self.changes: Counter[tuple[int, dt.date, str, str]] = Counter()
        self.serials: dict[tuple[int, int], int] = {}

    # --- holders and sites ---------------------------------------------------------------

    def _organizations(self, items: list[Planned]) -> None:
        known = self.plan.organizations
        made: dict[tuple[str, str, str], Organization] = {}
        for item in items:
            holder = item.cert.facts["holder"]
            key = holder_key(holder)
            if key in known or key in made:
                continue
            made[key] = Organization(
                legal_name=holder["name"],
                country=holder["country"],
                registration_number=holder["registration_number"],
                registration_authority=holder["registration_authority"],
                address=holder["address"],
            )
        Organization.objects.bulk_create(list(made.values()))
        known.update({key: org.pk for key, org in made.items()})

    def _sites(self, items: list[Planned]) -> None:
        known = self.plan.sites
        made: dict[tuple[int, str], Site] = {}
        for item in items:
            org_id = self.plan.organizations[holder_key(item.cert.facts["holder"])]
            for line in item.cert.facts["lines"]:
                site = line["site"]
                key = (org_id, site["name"])
                if key in known or key in made:
                    continue
                made[key] = Site(
                    organization_id=org_id,
                    name=site["name"],
                    address=site["address"],
                    city=site["city"],
                    country=site["country"],
                    published=site["published"],
                )
        Site.objects.bulk_create(list(made.values()))
        known.update({key: site.pk for key, site in made.items()})

    # --- new certificates ----------------------------------------------------------------

    def write_new(self, items: list[Planned]) -> list[int]:
        ids: list[int] = []
        total = len(items)
        self.progress("write", 0, total)
        for start in range(0, total, BATCH):
            chunk = items[start : start + BATCH]
            ids += self._write_chunk(chunk)
            self.progress("write", start + len(chunk), total)
        return ids

    def _write_chunk(self, items: list[Planned]) -> list[int]:
        self._organizations(items)
        self._sites(items)
        apps = self._applications(items)
        certs = self._certificates(apps, items)
        issues = self._histories(certs, items)
        self._surveillance(certs, items)
        # What is derived from each certificate, for the batch.
        status_entries_allocate_many(certs)
        ids = [c.pk for c in certs]
        visit_schedule_refresh(ids)
        # Signed as a grant signs its issue, with the CB's current key.
        credentials_sign_issues(issues)
        return ids

    def _applications(self, items: list[Planned]) -> list[Application]:
        """An accepted application a certificate, with its programmes and scope lines."""
        ref = self.ref
        orgs = self.plan.organizations
        sites = self.plan.sites
        apps = []
        for item in items:
            facts = item.cert.facts
            moment = _midday(facts["granted_on"])
            apps.append(
                Application(
                    organization_id=orgs[holder_key(facts["holder"])],
                    cb_id=item.cert.cb_id,
                    scheme_id=item.cert.scheme_id,
                    status=ApplicationStatus.ACCEPTED,
                    design_claimed=any(
                        ref.categories[line["category"]].is_design for line in facts["lines"]
                    ),
                    submitted_at=moment,
                    closed_at=moment,
                    status_reason=IMPORT_REASON,
                )
            )
        Application.objects.bulk_create(apps)
        _insert_pairs(
            Application.programmes.through,
            ("application", "programme"),
            [
                (app.pk, ref.programmes[code].pk)
                for app, item in zip(apps, items, strict=True)
                for code in item.cert.facts["programmes"]
            ],
        )
        lines = []
        for app, item in zip(apps, items, strict=True):
            org_id = app.organization_id
            for line in item.cert.facts["lines"]:
                lines.append(
                    ScopeLine(
                        application_id=app.pk,
                        category_id=ref.categories[line["category"]].pk,
                        site_id=sites[(org_id, line["site"]["name"])],
                        wording=line["wording"],
                    )
                )
        ScopeLine.objects.bulk_create(lines)
        standards_rows = []
        at = 0
        for item in items:
            for line in item.cert.facts["lines"]:
                standards_rows += [(lines[at].pk, ref.standards[s].pk) for s in line["standards"]]
                at += 1
        _insert_pairs(ScopeLine.standards.through, ("scopeline", "standard"), standards_rows)
        return apps

    def _certificates(self, apps: list[Application], items: list[Planned]) -> list[Certificate]:
        """The certificates, with the numbers and dates the file gives."""
        ref = self.ref
        certs = []
        for app, item in zip(apps, items, strict=True):
            facts = item.cert.facts
            granted = dt.date.fromisoformat(facts["granted_on"])
            certs.append(
                Certificate(
                    number=facts["number"],
                    number_year=item.cert.year,
                    number_serial=item.cert.serial,
                    cb_id=item.cert.cb_id,
                    scheme_id=item.cert.scheme_id,
                    organization_id=app.organization_id,
                    application_id=app.pk,
                    status=facts["status"],
                    status_since=dt.date.fromisoformat(facts["status_since"]),
                    first_issued_on=granted,
                    initial_decision_on=granted,
                    expires_on=dt.date.fromisoformat(facts["expires_on"]),
                    current_issue_number=1,
                )
            )
            key = (item.cert.cb_id, item.cert.year)
            self.serials[key] = max(self.serials.get(key, 0), item.cert.serial)
        Certificate.objects.bulk_create(certs)
        for cert, item in zip(certs, items, strict=True):
            # At hand for the credentials signed later.
            cert.cb = ref.cbs[item.cert.facts["cb"]]
            cert.scheme = ref.schemes[cert.scheme_id]
            item.certificate_id = cert.pk
        return certs

    def _histories(self, certs: list[Certificate], items: list[Planned]) -> list[CertificateIssue]:
        """Issue 1 of each, its status history, its import record and its audit event."""
        issues: list[CertificateIssue] = []
        changes: list[tuple[Any, ...]] = []
        records: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        ops = connection.ops
        recorded = ops.adapt_datetimefield_value(self.now)
        for cert, item in zip(certs, items, strict=True):
            facts = item.cert.facts
            issues.append(self._first_issue(cert, facts, cert.organization_id))
            for from_status, to_status, on, reason in _status_steps(cert, facts):
                changes.append(
                    (
                        cert.pk, from_status, to_status, ops.adapt_datefield_value(on), reason,
                        IMPORT_REASON, None, recorded,
                    )
                )  # fmt: skip
                self.changes[(cert.cb_id, on, from_status, to_status)] += 1
            records.append((cert.pk, self.batch.pk, item.cert.fingerprint, json.dumps(facts)))
            events.append(
                (
                    cert,
                    None,
                    {
                        **certificate_state(cert),
                        "granted_on": cert.first_issued_on,
                        "status_since": cert.status_since,
                        "reason_category": facts["status_reason"],
                        "import": self.batch.pk,
                        "rows": item.cert.rows,
                    },
                )
            )
        CertificateIssue.objects.bulk_create(issues)
        _insert(CertificateStatusChange, STATUS_CHANGE_FIELDS, changes)
        _insert(ImportedCertificate, ("certificate", "batch", "fingerprint", "facts"), records)
        audit_record_many(
            actor=self.actor,
            action="certificate.import",
            objects=events,
            reason=f"import {self.batch.pk} of {self.batch.file_name}",
        )
        return issues

    def _surveillance(self, certs: list[Certificate], items: list[Planned]) -> None:
        """The surveillance audits the earlier register knows of, as closed assessments:
        each visit of the programme due up to ``last_surveillance_on`` carried out on its
        due date, the last one on that day when it falls in that visit's window."""
        rows = []
        for cert, item in zip(certs, items, strict=True):
            last = item.cert.facts.get("last_surveillance_on")
            if not last or cert.status not in LIVE_STATUSES:
                continue
            visits = programme(
                start=cert.initial_decision_on,
                expires_on=cert.expires_on,
                rules=self.rules[cert.scheme_id],
            )
            for day in surveillance_days(visits, dt.date.fromisoformat(last)):
                rows.append(self._surveillance_record(cert, day))
        Assessment.objects.bulk_create(rows)

    def _surveillance_record(self, cert: Certificate, day: dt.date) -> Assessment:
        return Assessment(
            cb_id=cert.cb_id,
            application_id=cert.application_id,
            certificate_id=cert.pk,
            kind=AssessmentKind.SURVEILLANCE,
            status=AssessmentStatus.CLOSED,
            start_date=day,
            end_date=day,
            report_issued_on=day,
            summary=SURVEILLANCE_SUMMARY,
        )

    def _issue_content(self, facts: dict[str, Any], org_id: int) -> dict[str, Any]:
        ref = self.ref
        sites = self.plan.sites
        scope_lines = []
        site_rows: dict[int, dict[str, Any]] = {}
        for line in facts["lines"]:
            site_id = sites[(org_id, line["site"]["name"])]
            category = ref.categories[line["category"]]
            scope_lines.append(
                {
                    "category": category.code,
                    "category_name": category.name,
                    "site_id": site_id,
                    "site_name": line["site"]["name"],
                    "wording": line["wording"],
                    "standards": sorted(line["standards"]),
                }
            )
            site_rows[site_id] = _site_snapshot(site_id, line["site"])
        refs = sorted({s for line in facts["lines"] for s in line["standards"]})
        standards = []
        for r in refs:
            standard = ref.standards[r]
            standards.append(
                {
                    "designation": standard.designation,
                    "edition": standard.edition,
                    "title": standard.title,
                }
            )
        return {
            "holder": _holder_snapshot(facts["holder"]),
            "sites": [site_rows[pk] for pk in sorted(site_rows)],
            "programmes": [
                {"code": code, "name": ref.programmes[code].name} for code in facts["programmes"]
            ],
            "scope_lines": scope_lines,
            "standards": standards,
            "valid_from": dt.date.fromisoformat(facts["granted_on"]),
            "valid_until": dt.date.fromisoformat(facts["expires_on"]),
        }

    def _first_issue(
        self, cert: Certificate, facts: dict[str, Any], org_id: int
    ) -> CertificateIssue:
        return CertificateIssue(
            certificate=cert,
            issue_number=1,
            issued_on=cert.first_issued_on,
            reason=IssueReason.INITIAL,
            change_summary=FIRST_ISSUE,
            **self._issue_content(facts, org_id),
        )

    # --- the whole import's derived data -------------------------------------------------

    def finish(self, new_ids: list[int], changed_ids: list[int]) -> None:
        tally_status_changes_many(self.changes)
        number_sequences_reach(self.serials)
        written = new_ids + changed_ids
        self.progress("search index", 0, len(written))
        index_certificates_many(
            written, progress=lambda done: self.progress("search index", done, len(written))
        )

    # --- corrections ---------------------------------------------------------------------

    def write_changed(self, items: list[Planned]) -> list[int]:
        ids = []
        total = len(items)
        self.progress("correct", 0, total)
        for done, item in enumerate(items, start=1):
            ids.append(self._correct(item))
            self.progress("correct", done, total)
        return ids

    def _correct(self, item: Planned) -> int:
        assert item.certificate_id is not None and item.old is not None
        old, new = item.old, item.cert.facts
        cert = certificate_lock(Certificate(pk=item.certificate_id))
        before = certificate_state(cert)
        org = cert.organization
        key = holder_key(new["holder"])
        self.plan.organizations[key] = org.pk
        # The holder, its sites and the application's scope lines: as the file now says.
        holder = new["holder"]
        values = {
            "legal_name": holder["name"],
            "country": holder["country"],
            "registration_number": holder["registration_number"],
            "registration_authority": holder["registration_authority"],
            "address": holder["address"],
        }
        if any(getattr(org, k) != v for k, v in values.items()):
            Organization.objects.filter(pk=org.pk).update(**values)
        for line in new["lines"]:
            site = line["site"]
            site_values = {k: site[k] for k in ("address", "city", "country", "published")}
            found = Site.objects.filter(organization=org, name=site["name"]).first()
            if found is None:
                found = Site.objects.create(organization=org, name=site["name"], **site_values)
            elif any(getattr(found, k) != v for k, v in site_values.items()):
                Site.objects.filter(pk=found.pk).update(**site_values)
            self.plan.sites[(org.pk, site["name"])] = found.pk
        if new["lines"] != old["lines"] or new["programmes"] != old["programmes"]:
            self._sync_application(cert.application_id, org.pk, new)
        last = new.get("last_surveillance_on")
        if last and last != old.get("last_surveillance_on") and cert.status in LIVE_STATUSES:
            Assessment.objects.bulk_create(
                [
                    self._surveillance_record(cert, day)
                    for day in surveillance_days(visits_for(cert), dt.date.fromisoformat(last))
                ]
            )
        fields = []
        if new["expires_on"] != old["expires_on"]:
            cert.expires_on = dt.date.fromisoformat(new["expires_on"])
            fields.append("expires_on")
        # A new issue when what the certificate says changed, announcing only that.
        previous = certificate_last_issue(cert)
        assert previous is not None
        content = self._issue_content(new, org.pk)
        summary = change_summary(issue_content(previous), content)
        issue_number = None
        if summary:
            cert.current_issue_number += 1
            fields.append("current_issue_number")
            issue = CertificateIssue.objects.create(
                certificate=cert,
                issue_number=cert.current_issue_number,
                issued_on=max(today(), previous.issued_on),
                reason=_issue_reason(issue_content(previous), content),
                change_summary=summary,
                **content,
            )
            issue_number = issue.issue_number
        if new["status"] != old["status"] and new["status"] != cert.status:
            action = status_action(cert.status, new["status"])
            assert action is not None  # checked by the plan
            certificate_transition(
                actor=self.actor,
                certificate=cert,
                action=action,
                effective_on=dt.date.fromisoformat(new["status_since"]),
                reason_category=new["status_reason"],
                reason=IMPORT_REASON,
                update_fields=fields,
                before=before,
                audit=False,
            )
        else:
            if fields:
                cert.save(update_fields=fields)
            certificate_changed(cert)
        changed = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
        audit_record(
            actor=self.actor,
            action="certificate.import_update",
            obj=cert,
            before=before,
            after={
                **certificate_state(cert),
                "changed": changed,
                "issue": issue_number or cert.current_issue_number,
                "import": self.batch.pk,
                "rows": item.cert.rows,
            },
            reason=f"import {self.batch.pk} of {self.batch.file_name}",
        )
        ImportedCertificate.objects.filter(certificate_id=cert.pk).update(
            batch=self.batch, fingerprint=item.cert.fingerprint, facts=new
        )
        return cert.pk

    def _sync_application(self, application_id: int, org_id: int, facts: dict[str, Any]) -> None:
        ref = self.ref
        app = Application.objects.get(pk=application_id)
        app.programmes.set([ref.programmes[code] for code in facts["programmes"]])
        wanted = {
            (
                ref.categories[line["category"]].pk,
                self.plan.sites[(org_id, line["site"]["name"])],
            ): line
            for line in facts["lines"]
        }
        for line in ScopeLine.objects.filter(application=app):
            key = (line.category_id, line.site_id)
            if key not in wanted:
                line.standards.clear()
                line.delete()
        for (category_id, site_id), line in wanted.items():
            scope_line, _ = ScopeLine.objects.update_or_create(
                application=app,
                category_id=category_id,
                site_id=site_id,
                defaults={"wording": line["wording"]},
            )
            scope_line.standards.set([ref.standards[s] for s in line["standards"]])


def _status_steps(cert: Certificate, facts: dict[str, Any]) -> list[tuple[str, str, dt.date, str]]:
    """The status history of an imported certificate, by the lifecycle's own actions:
    granted on its grant date; then, unless it is still current, the change to its status
    on its date."""
    granted = CERTIFICATE.next_state(CertificateStatus.DRAFT, "grant")
    steps = [
        (CertificateStatus.DRAFT.value, granted, cert.first_issued_on, StatusReason.GRANTED.value)
    ]
    if facts["status"] != granted:
        action = status_action(granted, facts["status"])
        assert action is not None  # every public status is reached from current
        steps.append(
            (
                granted,
                CERTIFICATE.next_state(granted, action),
                cert.status_since,
                facts["status_reason"],
            )
        )
    return steps


def _issue_reason(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The reason a corrected issue gives: what its difference from the last one is."""
    if before["holder"]["name"] != after["holder"]["name"]:
        return IssueReason.HOLDER_RENAMED
    old_keys = {(line["category"], line["site_id"]) for line in before["scope_lines"]}
    new_keys = {(line["category"], line["site_id"]) for line in after["scope_lines"]}
    if new_keys - old_keys and not old_keys - new_keys:
        return IssueReason.SCOPE_EXTENSION
    if old_keys - new_keys and not new_keys - old_keys:
        return IssueReason.SCOPE_REDUCTION
    if before["sites"] != after["sites"]:
        return IssueReason.SITE_CHANGE
    if before["standards"] != after["standards"]:
        return IssueReason.STANDARD_UPDATED
    if str(before["valid_until"]) != str(after["valid_until"]):
        return IssueReason.RENEWAL
    return IssueReason.SCOPE_EXTENSION if new_keys != old_keys else IssueReason.SITE_CHANGE
