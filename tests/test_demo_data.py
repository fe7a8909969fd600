"""Demo data: every status, numbers and issues as the services make them, the same rules
as a real grant, an intact audit chain, the same data for the same seed, and real grants
that carry on after it."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from collections import Counter, defaultdict
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models, transaction
from django.db.models import Max
from django.utils import timezone

from apcert.accounts.models import User
from apcert.applications.selectors import acceptance_problems
from apcert.applications.services import (
    application_accept,
    application_create,
    application_submit,
    scope_line_add,
)
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import assessment_issue_report, assessment_plan, assessment_start
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.bodies.models import CBStaff
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateNumberSequence,
    CertificateStatusChange,
    Decision,
    StatusTally,
)
from apcert.certificates.numbering import format_number
from apcert.certificates.selectors import (
    decision_maker_problems,
    findings_problems,
    report_problems,
)
from apcert.certificates.services import certificate_grant
from apcert.certificates.snapshots import (
    application_scope,
    holder_snapshot,
    sites_of,
    standards_of,
)
from apcert.certificates.tallies import status_tallies_problems
from apcert.core.dates import add_months
from apcert.credentials.models import SigningKey
from apcert.cycle.models import ScheduledVisit
from apcert.cycle.schedule import visit_schedule_check
from apcert.demo.generate import DemoReport, demo_data_generate
from apcert.organizations.models import OrganizationMember
from apcert.organizations.services import organization_create, site_create
from apcert.schemes.models import ProcessCategory, Programme, Scheme
from apcert.schemes.selectors import scheme_rules, standard_problem
from tests.factories import make_user, on_day
from tests.flows_support import issues_not_saying_what_changed

pytestmark = pytest.mark.django_db

N = 60
SEED = 7
#: A fixed reference date, so that every run of the suite checks the same data.
REFERENCE_DATE = dt.date(2026, 6, 30)
NUMBER = re.compile(r"IECQ-A (?P<cb>[A-Z0-9]{2,8}) (?P<yy>\d{2})\.(?P<serial>\d{4,})")
DECISION_OF = {
    "suspended": "suspend",
    "current": "restore",
    "withdrawn": "withdraw",
    "cancelled": "cancel",
}


@pytest.fixture
def demo(reference: None) -> DemoReport:
    return demo_data_generate(certificates=N, seed=SEED, reference_date=REFERENCE_DATE)


def test_every_public_status_appears_and_most_certificates_are_current(
    demo: DemoReport,
) -> None:
    statuses = Counter(Certificate.objects.values_list("status", flat=True))

    assert set(statuses) == set(PUBLIC_STATUSES)
    assert statuses == Counter(demo.by_status)
    assert sum(statuses.values()) == N
    assert statuses["current"] > N / 2


def test_numbers_are_formatted_per_cb_and_year_without_gaps(demo: DemoReport) -> None:
    rules = scheme_rules(Scheme.objects.get(code="AP"))
    serials = defaultdict(list)
    for cert in Certificate.objects.select_related("cb"):
        match = NUMBER.fullmatch(cert.number)
        assert match is not None, cert.number
        assert cert.number == format_number(
            rules, cb_code=cert.cb.code, year=cert.number_year, serial=cert.number_serial
        )
        assert (match["cb"], int(match["yy"])) == (cert.cb.code, cert.first_issued_on.year % 100)
        assert cert.number_year == cert.first_issued_on.year
        serials[(cert.cb_id, cert.number_year)].append(cert.number_serial)

    assert len(set(Certificate.objects.values_list("number", flat=True))) == N
    for serial_list in serials.values():
        assert sorted(serial_list) == list(range(1, len(serial_list) + 1))
    sequences = {(s.cb_id, s.year): s.last_serial for s in CertificateNumberSequence.objects.all()}
    assert sequences == {key: max(values) for key, values in serials.items()}


def test_issues_count_from_one_and_snapshot_what_the_services_snapshot(demo: DemoReport) -> None:
    for cert in Certificate.objects.select_related("organization", "application"):
        issues = list(cert.issues.order_by("issue_number"))
        assert [i.issue_number for i in issues] == list(range(1, len(issues) + 1))
        assert cert.current_issue_number == len(issues)
        first, last = issues[0], issues[-1]
        assert (first.reason, first.issued_on) == ("initial", cert.first_issued_on)
        assert first.scope_lines == application_scope(cert.application)
        assert last.valid_until == cert.expires_on
        for issue in issues:
            assert issue.valid_from == cert.initial_decision_on
            assert issue.holder == holder_snapshot(cert.organization)
            assert issue.sites == sites_of(issue.scope_lines)
            assert issue.standards == standards_of(issue.scope_lines)
            assert issue.decision is not None
            assert issue.decision.certificate_id == cert.pk
        for earlier, later in itertools.pairwise(issues):
            assert earlier.issued_on < later.issued_on
    assert CertificateIssue.objects.filter(issue_number=2).exists()


def test_status_history_chains_to_the_status_with_a_decision_for_each_change(
    demo: DemoReport,
) -> None:
    for cert in Certificate.objects.all():
        changes = list(cert.status_changes.order_by("effective_on", "id"))
        assert (changes[0].from_status, changes[0].to_status) == ("draft", "current")
        assert changes[0].decision is not None and changes[0].decision.kind == "grant"
        for earlier, later in itertools.pairwise(changes):
            assert later.from_status == earlier.to_status
            assert later.effective_on > earlier.effective_on
        for change in changes[1:]:
            if change.to_status == "expired":
                assert change.decision is None
                assert change.effective_on == cert.expires_on + dt.timedelta(days=1)
            else:
                assert change.decision is not None
                assert change.decision.kind == DECISION_OF[change.to_status]
                assert change.decision.decided_on == change.effective_on
        assert changes[-1].to_status == cert.status
        assert changes[-1].effective_on == cert.status_since


def test_dates_stand_on_the_reference_date(demo: DemoReport) -> None:
    for cert in Certificate.objects.all():
        assert cert.first_issued_on <= REFERENCE_DATE
        assert cert.status_since <= REFERENCE_DATE
        if cert.status == "expired":
            assert cert.expires_on < REFERENCE_DATE
        if cert.status in ("current", "suspended"):
            assert cert.expires_on >= REFERENCE_DATE
        if cert.status == "suspended":
            assert cert.status_since >= add_months(REFERENCE_DATE, -6)
    assert CertificateStatusChange.objects.filter(effective_on__gt=REFERENCE_DATE).count() == 0


def test_dates_meet_the_rules_the_services_enforce(demo: DemoReport) -> None:
    # Written in bulk, the demo data still reads as the services would have written it: a
    # finding raised during its assessment and by the reference date, due and closed no
    # earlier than raised; a report between the assessment's last day and the reference
    # date; no assessment under way before its start; no decision after the reference date.
    for f in Finding.objects.select_related("assessment"):
        assert f.assessment.start_date <= f.raised_on <= f.assessment.end_date, f.pk
        assert f.raised_on <= REFERENCE_DATE
        assert f.due_date >= f.raised_on
        assert f.closed_on is None or f.closed_on >= f.raised_on
    for a in Assessment.objects.exclude(status="planned"):
        assert a.start_date <= REFERENCE_DATE, a.pk
        if a.report_issued_on is not None:
            assert a.end_date <= a.report_issued_on <= REFERENCE_DATE, a.pk
    assert not Decision.objects.filter(decided_on__gt=REFERENCE_DATE).exists()


def test_every_grant_meets_the_rules_a_real_grant_is_checked_against(demo: DemoReport) -> None:
    grants = Decision.objects.filter(kind="grant").select_related(
        "assessment", "application", "decided_by"
    )
    assert grants.count() == N
    for decision in grants:
        assessment, application = decision.assessment, decision.application
        assert assessment is not None and application is not None
        on = decision.decided_on
        assert assessment.kind == "initial"
        assert decision_maker_problems(assessment=assessment, decided_by=decision.decided_by) == []
        assert report_problems(assessment=assessment, decided_on=on) == []
        assert (
            findings_problems(assessment=assessment, decided_on=on, initial_six_month_rule=True)
            == []
        )
        lines = list(application.scope_lines.select_related("category", "site"))
        assert (
            acceptance_problems(
                cb_id=application.cb_id,
                programme_ids=list(application.programmes.values_list("pk", flat=True)),
                scope_lines=lines,
                on=on,
                code_prefix="decision",
            )
            == []
        )
        for line in lines:
            assert line.site.organization_id == application.organization_id
            for std in line.standards.all():
                assert standard_problem(std, on) is None
    assert not Finding.objects.filter(grade="major").exclude(status="closed").exists()
    assert set(Finding.objects.values_list("grade", flat=True)) == {"major", "minor", "observation"}


def test_every_issue_says_what_changed_from_the_one_before(demo: DemoReport) -> None:
    # A re-issue announces only what it changed: its summary is the difference between the
    # two snapshots, and no re-issue is a free "correction".
    assert issues_not_saying_what_changed() == []
    reasons = Counter(CertificateIssue.objects.values_list("reason", flat=True))
    assert "correction" not in reasons
    assert {"initial", "renewal", "scope_extension", "scope_reduction"} <= set(reasons)
    extended = CertificateIssue.objects.filter(reason="scope_extension").first()
    assert extended is not None
    assert extended.change_summary.startswith("Scope line added: ")
    decision = extended.decision
    assert decision is not None and decision.assessment is not None
    assert (decision.kind, decision.assessment.kind) == ("extend_scope", "scope_extension")


def test_renewals_rest_on_a_reassessment_decided_before_expiry(demo: DemoReport) -> None:
    renewals = Decision.objects.filter(kind="renew").select_related("assessment")
    assert renewals.exists()
    for decision in renewals:
        assert decision.assessment is not None
        assert decision.assessment.kind == "reassessment"
        assert decision.assessment.certificate_id == decision.certificate_id
        assert report_problems(assessment=decision.assessment, decided_on=decision.decided_on) == []
        issue = CertificateIssue.objects.get(decision=decision)
        previous = CertificateIssue.objects.get(
            certificate_id=decision.certificate_id, issue_number=issue.issue_number - 1
        )
        assert decision.decided_on <= previous.valid_until


def test_the_visit_schedule_is_stored_for_every_live_certificate(demo: DemoReport) -> None:
    # The bulk loader bypasses the services: it plans the whole schedule at the end
    live = Certificate.objects.filter(status__in=("current", "suspended"))
    assert ScheduledVisit.objects.exists()
    assert set(ScheduledVisit.objects.values_list("certificate_id", flat=True)) <= set(
        live.values_list("pk", flat=True)
    )
    assert visit_schedule_check() == []


def test_the_kept_status_counts_agree_with_the_certificates(demo: DemoReport) -> None:
    assert status_tallies_problems() == []
    assert StatusTally.objects.exists()


def test_the_audit_chain_verifies_with_one_event_per_change(demo: DemoReport) -> None:
    assert audit_chain_verify().ok
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None and last.action == "demo.load"
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (last.seq, last.hash)
    events = Counter(
        AuditEvent.objects.filter(object_type="certificates.certificate").values_list(
            "object_id", flat=True
        )
    )
    for cert in Certificate.objects.all():
        changes = cert.status_changes.count() + cert.issues.count() - 1
        assert events[str(cert.pk)] == changes, cert.number
    grant = AuditEvent.objects.filter(action="certificate.grant").first()
    assert grant is not None and grant.after is not None
    cert = Certificate.objects.get(pk=grant.object_id)
    assert grant.after["scope_lines"] == cert.issues.get(issue_number=1).scope_lines


def _digest() -> str:
    """What the data says, without database ids that a sequence may hand out differently."""
    h = hashlib.sha256()
    queries = [
        Certificate.objects.order_by("number").values_list(
            "number", "status", "status_since", "expires_on", "current_issue_number",
            "organization__legal_name", "organization__registration_number", "cb__code",
        ),
        CertificateIssue.objects.order_by("certificate__number", "issue_number").values_list(
            "certificate__number", "issue_number", "issued_on", "reason", "change_summary",
            "holder", "programmes", "scope_lines", "standards", "created_at",
        ),
        CertificateStatusChange.objects.order_by("certificate__number", "effective_on").values_list(
            "certificate__number", "from_status", "to_status", "effective_on", "reason",
            "recorded_at",
        ),
        Finding.objects.order_by("id").values_list(
            "grade", "status", "requirement_ref", "description", "raised_on", "closed_on"
        ),
        Assessment.objects.order_by("id").values_list("kind", "status", "start_date", "summary"),
        AuditEvent.objects.order_by("seq").values_list(
            "seq", "occurred_at", "action", "object_repr", "after", "reason"
        ),
    ]  # fmt: skip
    for query in queries:
        for row in query:
            h.update(repr(row).encode())
    return h.hexdigest()


def _generated(seed: int, on: dt.date = REFERENCE_DATE, certificates: int = N) -> str:
    """Generate on the current state of the database, take the digest, roll back."""
    with transaction.atomic():
        demo_data_generate(certificates=certificates, seed=seed, reference_date=on)
        digest = _digest()
        transaction.set_rollback(True)
    return digest


def test_the_same_seed_size_and_date_give_the_same_data(reference: None) -> None:
    first = _generated(SEED)
    second = _generated(SEED)
    other_seed = _generated(SEED + 1)
    other_date = _generated(SEED, on=REFERENCE_DATE + dt.timedelta(days=1))
    other_size = _generated(SEED, certificates=N + 1)

    assert first == second
    assert len({first, other_seed, other_date, other_size}) == 4


def test_a_real_grant_after_demo_data_takes_the_next_serial(demo: DemoReport) -> None:
    latest = Certificate.objects.select_related("cb").order_by("-first_issued_on", "-id").first()
    assert latest is not None
    cb, year = latest.cb, latest.number_year
    last = max(
        Certificate.objects.filter(cb=cb, number_year=year).values_list("number_serial", flat=True)
    )
    staff = {
        role: User.objects.filter(cb_roles__cb=cb, cb_roles__role=role).order_by("username")
        for role in ("scheme_manager", "assessor", "decision_maker")
    }
    org_user = make_user("after-demo")
    org = organization_create(actor=org_user, legal_name="After Demo Plating GmbH", country="DE")
    site = site_create(actor=org_user, organization=org, name="Works", city="Ulm", country="DE")
    app = application_create(
        actor=org_user,
        organization=org,
        cb=cb,
        scheme=Scheme.objects.get(code="AP"),
        programmes=Programme.objects.filter(code="AP"),
    )
    scope_line_add(
        actor=org_user,
        application=app,
        category=ProcessCategory.objects.get(code="EPL"),
        site=site,
        wording="Tin plating",
        standards=["ISO 9001:2015"],
    )
    start = dt.date(year, 12, 1)
    application_submit(actor=org_user, application=app, on=start - dt.timedelta(days=30))
    application_accept(actor=staff["scheme_manager"].first(), application=app)
    lead, member = staff["assessor"][:2]
    assessment = assessment_plan(
        actor=staff["scheme_manager"].first(),
        kind="initial",
        application=app,
        start_date=start,
        end_date=start + dt.timedelta(days=1),
        team=[(lead, "lead"), (member, "member")],
    )
    with on_day(start):
        assessment_start(actor=lead, assessment=assessment)
    with on_day(start + dt.timedelta(days=3)):
        assessment = assessment_issue_report(
            actor=lead, assessment=assessment, issued_on=start + dt.timedelta(days=3)
        )
    with on_day(start + dt.timedelta(days=10)):
        cert = certificate_grant(
            actor=staff["decision_maker"].first(),
            application=app,
            assessment=assessment,
            decided_on=start + dt.timedelta(days=10),
        )

    rules = scheme_rules(Scheme.objects.get(code="AP"))
    assert cert.number_serial == last + 1
    assert cert.number == format_number(rules, cb_code=cb.code, year=year, serial=last + 1)
    assert audit_chain_verify().ok


def test_demo_data_command_fills_once_and_if_empty_skips(reference: None) -> None:
    from io import StringIO

    out = StringIO()
    call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=out)
    assert "demo data: 12 certificates" in out.getvalue()

    again = StringIO()
    call_command("demo-data", certificates=12, seed=3, if_empty=True, quiet=True, stdout=again)
    assert "nothing to do" in again.getvalue()
    assert Certificate.objects.count() == 12
    with pytest.raises(CommandError, match="already holds 12 certificates"):
        call_command("demo-data", certificates=12, seed=3, quiet=True)


def test_a_load_stopped_while_writing_rows_is_refused_not_doubled(
    reference: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import StringIO

    from apcert.demo import generate
    from apcert.organizations.models import Organization

    # Given a load killed while it wrote its rows: organizations written, no certificate yet
    class Killed(BaseException):
        pass

    def killed_after_the_organizations(self: Any) -> Any:
        Organization.objects.create(legal_name="Half Loaded GmbH", country="DE")
        raise Killed

    monkeypatch.setattr(generate._Generator, "run", killed_after_the_organizations)
    with pytest.raises(Killed):
        call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=StringIO())
    monkeypatch.undo()
    organizations = Organization.objects.count()
    assert not Certificate.objects.exists()

    # When it is run again, with --if-empty or without, it refuses, saying why and what to
    # do, and adds no second set beside the partial one
    for if_empty in (True, False):
        with pytest.raises(CommandError, match="stopped while writing its rows; its partial"):
            call_command(
                "demo-data", certificates=12, seed=3, if_empty=if_empty, quiet=True,
                stdout=StringIO(),
            )  # fmt: skip
    assert Organization.objects.count() == organizations
    assert not Certificate.objects.exists()


def test_a_finished_load_is_recorded_as_finished(demo: DemoReport) -> None:
    from apcert.demo.models import DemoLoad

    [load] = DemoLoad.objects.all()
    assert load.rows_written_at is not None and load.finished_at is not None


@pytest.mark.parametrize("stopped_in", ["search index", "visit schedule", "status counts"])
def test_a_load_stopped_while_building_derived_data_is_completed_by_if_empty(
    reference: None, stopped_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import StringIO

    from apcert.cycle.schedule import visit_schedule_check
    from apcert.demo import generate
    from apcert.register.index import index_check

    # Given a load killed while it built one of its derived tables (each is built in one
    # transaction, so it is left empty), and so the ones after it never built
    phases = ["search index", "visit schedule", "status counts"]
    after = phases[phases.index(stopped_in) :]

    class Killed(BaseException):
        pass

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise Killed

    monkeypatch.setattr(
        generate,
        {
            "search index": "rebuild_search_index",
            "visit schedule": "rebuild_visit_schedule",
            "status counts": "status_tallies_rebuild",
        }[stopped_in],
        killed,
    )
    with pytest.raises(Killed):
        call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=StringIO())
    monkeypatch.undo()
    assert generate.demo_derived_missing() == after

    # When it is run again with --if-empty, it says so and completes them
    out = StringIO()
    call_command("demo-data", certificates=12, seed=3, if_empty=True, quiet=True, stdout=out)
    assert "completing what an earlier run left unbuilt: " + ", ".join(after) in out.getvalue()
    assert generate.demo_derived_missing() == []
    assert index_check() == []
    assert visit_schedule_check() == []
    assert status_tallies_problems() == []


def test_demo_accounts_sign_in_with_the_printed_passwords(demo: DemoReport) -> None:
    from io import StringIO

    out = StringIO()
    call_command("demo-accounts", stdout=out)
    call_command("demo-accounts", stdout=StringIO())  # idempotent

    printed = out.getvalue()
    assert "http://127.0.0.1:8000/admin/" in printed
    assert "http://127.0.0.1:8000/office/sign-in" in printed
    rows = [line.split() for line in printed.splitlines() if line.endswith("-demo")]
    credentials = {parts[-2]: parts[-1] for parts in rows}
    assert len(credentials) == 6
    for username, password in credentials.items():
        assert User.objects.get(username=username).check_password(password)
    secretariat = User.objects.get(username="secretariat")
    assert secretariat.is_secretariat and secretariat.is_staff and not secretariat.is_superuser
    for username, role in (
        ("nzc-admin", "admin"),
        ("nzc-manager", "scheme_manager"),
        ("nzc-assessor1", "assessor"),
        ("nzc-decider1", "decision_maker"),
    ):
        assert CBStaff.objects.filter(user__username=username, cb__code="NZC", role=role).exists()
    staff = {"secretariat", "nzc-admin", "nzc-manager", "nzc-assessor1", "nzc-decider1"}
    org_users = set(credentials) - staff
    (org_username,) = org_users
    member = OrganizationMember.objects.get(user__username=org_username)
    assert member.organization.certificates.filter(cb__code="NZC", status="current").exists()
    # Each printed account signs in to the back office through its sign-in page.
    from django.test import Client

    for username, password in credentials.items():
        client = Client()
        response = client.post(
            "/office/sign-in", {"username": username, "password": password}, follow=True
        )
        assert response.status_code == 200, username
        assert response.wsgi_request.user.username == username
        assert response.redirect_chain[-1][0] == "/office/"


#: Dates that name a deadline, an end of validity or a planned visit: they may lie after the
#: reference date. Every other date the demo writes is an event, on or before it.
AHEAD = {
    ("assessments.Finding", "due_date"),
    ("certificates.Certificate", "expires_on"),
    ("certificates.Certificate", "surveillance_due_by"),
    ("certificates.Certificate", "lapses_on"),
    ("certificates.CertificateIssue", "valid_until"),
    ("cycle.ScheduledVisit", "due_date"),
    ("cycle.ScheduledVisit", "window_start"),
    ("cycle.ScheduledVisit", "window_end"),
    ("register.SearchEntry", "expires_on"),
}


def _latest_dates(events_after: int) -> dict[tuple[str, str], dt.date]:
    """The latest day in every date and time column of the data (reference data aside,
    which is loaded, not generated; the load's own record, which the wall clock dates, not
    the reference date; audit events only from ``events_after`` on)."""
    latest = {}
    for model in apps.get_models():
        label = model._meta.label
        if not model.__module__.startswith("apcert.") or model._meta.app_label in (
            "schemes",
            "demo",
        ):
            continue
        rows = model._default_manager.all()
        if model is AuditEvent:
            rows = rows.filter(seq__gt=events_after)
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateField):  # DateTimeField included
                value = rows.aggregate(latest=Max(field.name))["latest"]
                if value is not None:
                    day = value.date() if isinstance(value, dt.datetime) else value
                    latest[(label, field.name)] = day
    return latest


@pytest.mark.parametrize("on", [dt.date(2026, 12, 6), dt.date(2027, 2, 28)])
def test_nothing_is_dated_after_the_reference_date_and_the_sweep_finds_nothing_to_do(
    reference: None, on: dt.date
) -> None:
    # given demo data made up to a reference date
    head = AuditChainHead.objects.get()
    demo_data_generate(certificates=N, seed=SEED, reference_date=on)
    # then every event is dated on or before that day, and some fall on it
    latest = _latest_dates(head.last_seq)
    late = {column: day for column, day in latest.items() if day > on and column not in AHEAD}
    assert late == {}
    assert latest[("audit.AuditEvent", "occurred_at")] == on
    # (N certificates change status about once a month between them: allow two)
    assert latest[("certificates.CertificateStatusChange", "effective_on")] > on - dt.timedelta(
        days=62
    )
    assert max(latest[column] for column in AHEAD if column in latest) > on
    # and no certificate reads current past its validity: the sweep of that day changes nothing
    statuses = dict(Certificate.objects.values_list("number", "status"))
    assert not Certificate.objects.filter(status="current", expires_on__lt=on).exists()
    call_command("sweep", as_of=on.isoformat(), stdout=StringIO())
    assert dict(Certificate.objects.values_list("number", "status")) == statuses
    # (about three quarters at scale; with N certificates the share varies with the draw)
    assert Counter(statuses.values())["current"] >= N * 0.5


def test_demo_data_command_makes_data_up_to_today_unless_told_another_date(
    reference: None,
) -> None:
    with pytest.raises(CommandError, match="--as-of '2026-02-30' is not a date"):
        call_command("demo-data", certificates=12, seed=3, as_of="2026-02-30", quiet=True)
    assert not Certificate.objects.exists()

    out = StringIO()
    call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=out)
    today = timezone.localdate()
    assert f"(reference date {today.isoformat()})" in out.getvalue()
    assert Certificate.objects.filter(status_since__gt=today).count() == 0
    load = AuditEvent.objects.get(action="demo.load")
    assert load.after is not None and load.after["reference_date"] == today.isoformat()

    again = StringIO()
    call_command("demo-data", certificates=12, seed=3, if_empty=True, quiet=True, stdout=again)
    assert again.getvalue() == (
        f"demo-data: certificates already exist (demo data up to {today.isoformat()}); "
        "nothing to do (--if-empty)\n"
    )


def test_demo_data_command_takes_the_reference_date_it_is_given(reference: None) -> None:
    out = StringIO()
    call_command("demo-data", certificates=12, seed=3, as_of="2025-03-31", quiet=True, stdout=out)

    assert "(reference date 2025-03-31)" in out.getvalue()
    latest = Certificate.objects.aggregate(latest=Max("status_since"))["latest"]
    assert latest is not None and latest <= dt.date(2025, 3, 31)


def test_a_kept_data_set_is_served_only_at_the_address_its_keys_name(
    reference: None, settings: Any, tmp_path: Path
) -> None:
    # given demo data signed for port 8000
    settings.KEY_DIR = tmp_path / "keys"
    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=StringIO())
    call_command("keys-generate", missing=True, stdout=StringIO())
    keys = list(SigningKey.objects.values_list("key_id", flat=True))
    # when the demo is started again on port 8101
    settings.SITE_URL = "http://127.0.0.1:8101"
    with pytest.raises(CommandError) as refused:
        call_command("demo-data", if_empty=True, quiet=True, stdout=StringIO())
    # then it refuses, names both addresses and says what to do; nothing changed
    message = str(refused.value)
    assert message.startswith(
        "demo-data: this data set was signed for 127.0.0.1:8000: its signing keys and signed "
        "certificates name did:web:127.0.0.1%3A8000, but APCERT_SITE_URL is now "
        "http://127.0.0.1:8101 (did:web:127.0.0.1%3A8101). "
    )
    assert "Either serve it there again (make demo HOST=127.0.0.1 PORT=8000), or, " in message
    assert f"the private keys ({settings.KEY_DIR})" in message
    assert list(SigningKey.objects.values_list("key_id", flat=True)) == keys
    assert Certificate.objects.count() == 12
    # and at the address it was made for, the data set is kept
    settings.SITE_URL = "http://127.0.0.1:8000/"
    out = StringIO()
    call_command("demo-data", if_empty=True, quiet=True, stdout=out)
    assert "nothing to do (--if-empty)" in out.getvalue()


def test_a_kept_data_set_without_keys_may_take_any_address(reference: None, settings: Any) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("demo-data", certificates=12, seed=3, quiet=True, stdout=StringIO())
    settings.SITE_URL = "http://192.0.2.10:8101"
    out = StringIO()

    call_command("demo-data", if_empty=True, quiet=True, stdout=out)

    assert "nothing to do (--if-empty)" in out.getvalue()


def test_lean_records_at_large_sizes_still_read_as_their_timeline_says(
    reference: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given demo data as it is made above the full-record size (most organizations without an
    # account, their certificates with a lean private record)
    import apcert.demo.generate as generate

    monkeypatch.setattr(generate, "FULL_RECORDS_UP_TO", 10)
    monkeypatch.setattr(generate, "DEMO_ORGANIZATIONS", 5)
    on = dt.date(2026, 12, 6)
    demo_data_generate(certificates=N, seed=SEED, reference_date=on)
    # then their surveillance visits are recorded too: no live certificate has a status that
    # the calendar has already changed, and the sweep of that day changes nothing
    assert not Certificate.objects.filter(
        status__in=("current", "suspended"), lapses_on__lte=on
    ).exists()
    statuses = dict(Certificate.objects.values_list("number", "status"))
    call_command("sweep", as_of=on.isoformat(), stdout=StringIO())
    assert dict(Certificate.objects.values_list("number", "status")) == statuses
    # (about three quarters at scale; with N certificates the share varies with the draw)
    assert Counter(statuses.values())["current"] >= N * 0.5


def test_at_thousands_of_certificates_the_history_and_the_calendar_agree(reference: None) -> None:
    # given a data set large enough for the timeline's rare turns (a visit squeezed by a
    # restoration, a window that moved with an early visit, a window closing just before
    # the reference date)
    on = dt.date(2026, 12, 6)
    demo_data_generate(certificates=5000, seed=SEED, reference_date=on)
    # then no live certificate's stored status has been overtaken by the scheme's calendar:
    # every missed surveillance is recorded as a suspension, as the sweep would have it
    overtaken = Certificate.objects.filter(lapses_on__lte=on, status__in=("current", "suspended"))
    assert list(overtaken.values_list("number", "lapses_on")) == []
