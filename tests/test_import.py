"""The bulk import of an existing register: a dry run that reports every problem row by row
and writes nothing; a commit that writes every row or none; the same file twice writes once;
a corrected file changes only what it corrects; imported certificates are in the register,
its search and its derived data, and their credentials verify like any other's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.db.models import Model
from django.test import Client

from apcert.accounts.models import User
from apcert.applications.models import Application, ScopeLine
from apcert.assessments.models import Assessment
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.bodies.services import cb_staff_add
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateNumberSequence,
    CertificateStatusChange,
    StatusCount,
    StatusTally,
)
from apcert.certificates.tallies import status_tallies_problems
from apcert.core.errors import (
    PERMISSION_CB_ROLE_REQUIRED,
    PERMISSION_SECRETARIAT_REQUIRED,
    PermissionDenied,
)
from apcert.credentials import selectors as credential_selectors
from apcert.credentials.models import IssueCredential
from apcert.credentials.services import signing_key_generate
from apcert.credentials.verification import verify_credential
from apcert.cycle.schedule import visit_schedule_check
from apcert.imports import errors
from apcert.imports.models import ImportBatch, ImportedCertificate
from apcert.imports.services import register_import
from apcert.organizations.models import Organization, Site
from apcert.register.index import index_check
from apcert.register.search import SearchQuery, search
from apcert.register.selectors import public_certificate
from apcert.statuslists.models import StatusListEntry
from tests.credentials_support import key_dir
from tests.factories import World, make_user
from tests.import_support import csv_file, row, xlsx_file

pytestmark = pytest.mark.django_db

__all__ = ["key_dir"]

TABLES: tuple[type[Model], ...] = (
    Certificate, CertificateIssue, CertificateStatusChange, Application, ScopeLine,
    Organization, Site, Assessment, AuditEvent, IssueCredential, StatusListEntry,
    ImportedCertificate, StatusTally, StatusCount, CertificateNumberSequence,
)  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in TABLES}


def run(world: World, data: bytes, *, actor: User | None = None, **options: Any) -> Any:
    options.setdefault("cb", None)
    return register_import(
        actor=actor or world.secretariat, data=data, file_name="register.csv", **options
    )


def good_rows(cb: str) -> list[dict[str, str]]:
    return [
        row(cb, 1, last_surveillance_on="2026-03-01"),
        row(cb, 1, category="PWB", site_name="Second plant", site_city="Leipzig",
            standards="ISO 9001:2015; IPC-6012:2023", wording="Printed boards, lot 1",
            last_surveillance_on="2026-03-01"),
        row(cb, 2, status="suspended", status_since="2026-02-01", status_reason="complaint"),
        row(cb, 3, granted_on="2021-05-02", number=f"IECQ-A {cb} 21.0003",
            expires_on="2024-05-01", status="expired", status_since="2024-05-02"),
        row(cb, 4, status="withdrawn", status_since="2025-06-30", site_published="no"),
    ]  # fmt: skip


# --- every kind of bad row --------------------------------------------------------------


def test_every_kind_of_bad_row_is_reported_with_its_code_and_nothing_is_written(
    world: World,
) -> None:
    cb = world.team.cb.code
    other = World.make_cb(world.secretariat, "OTH", dt.date(2020, 1, 1), programmes=("AP",))
    bad = [
        row(cb, 10, cb="NOPE"),  # 2
        row(cb, 11, number="IECQ A 24-11"),  # 3
        row(cb, 12, number=f"IECQ-A {cb} 23.0012"),  # 4: the year is not the grant's
        row(cb, 13, status="lapsed"),  # 5
        row(cb, 14, status="suspended", status_since="", status_reason="complaint"),  # 6
        row(cb, 15, status_reason="bored"),  # 7
        row(cb, 16, granted_on="2024-02-30"),  # 8
        row(cb, 17, expires_on="2023-01-01"),  # 9
        row(cb, 18, holder_country="Germany"),  # 10
        row(cb, 19, site_published="perhaps"),  # 11
        row(cb, 20, programmes="AP-XYZ"),  # 12
        row(cb, 21, programmes="HSPM", number=f"IECQ-H {cb} 24.0021"),  # 13: not accepted
        row(cb, 22, category="NOPE"),  # 14
        row(cb, 23, standards="ISO 9001:1899"),  # 15
        row(cb, 24, wording=""),  # 16
        row(cb, 25, holder_name="x" * 301),  # 17
        row(cb, 26),  # 18 and 19: one certificate, two expiry dates
        row(cb, 26, expires_on="2027-03-14", category="PWB"),
        row(cb, 27),  # 20 and 21: the same line twice
        row(cb, 27),
        row(cb, 28, holder_registration_number="HRB SAME"),  # 22, 23: one holder, two names
        row(cb, 29, holder_registration_number="HRB SAME", holder_name="Other name"),
        row("OTH", 30, number="IECQ-A OTH 24.0030"),  # 24: another CB's, for a CB's import
    ]
    # the Secretariat's import for one CB refuses another CB's rows; the scope of an
    # acceptance limited to some categories refuses a line outside them
    acceptance = other.cb.acceptances.get()
    acceptance.categories.set([])
    before = counts()

    report = run(world, csv_file(bad), cb=world.team.cb)

    found = {(p.row, p.column, p.code) for p in report.problems}
    assert {
        (2, "cb", errors.IMPORT_CB_UNKNOWN),
        (3, "number", errors.IMPORT_NUMBER_MALFORMED),
        (4, "number", errors.IMPORT_NUMBER_MISMATCH),
        (5, "status", errors.IMPORT_STATUS_UNKNOWN),
        (6, "status_since", errors.IMPORT_VALUE_REQUIRED),
        (7, "status_reason", errors.IMPORT_STATUS_REASON_UNKNOWN),
        (8, "granted_on", errors.IMPORT_DATE_INVALID),
        (9, "expires_on", errors.IMPORT_DATE_ORDER),
        (10, "holder_country", errors.IMPORT_COUNTRY_INVALID),
        (11, "site_published", errors.IMPORT_FLAG_INVALID),
        (12, "programmes", errors.IMPORT_PROGRAMME_UNKNOWN),
        (13, "programmes", errors.IMPORT_PROGRAMME_NOT_ACCEPTED),
        (14, "category", errors.IMPORT_CATEGORY_UNKNOWN),
        (15, "standards", errors.IMPORT_STANDARD_UNKNOWN),
        (16, "wording", errors.IMPORT_VALUE_REQUIRED),
        (17, "holder_name", errors.IMPORT_VALUE_TOO_LONG),
        (19, "expires_on", errors.IMPORT_ROW_CONFLICT),
        (21, "category", errors.IMPORT_LINE_DUPLICATE),
        (23, "holder_name", errors.IMPORT_HOLDER_CONFLICT),
        (24, "cb", errors.IMPORT_CB_NOT_ALLOWED),
    } <= found
    assert all(p.message for p in report.problems)
    assert not report.committed
    assert counts() == before


def test_the_header_a_standard_not_accepted_and_a_scope_outside_the_acceptance_are_reported(
    world: World,
) -> None:
    from apcert.schemes.models import ProcessCategory, Standard

    Standard.objects.filter(designation="IPC-6012", edition="2023").update(accepted_for_iecq=False)
    acceptance = world.team.cb.acceptances.get(programme__code="AP")
    acceptance.categories.set([ProcessCategory.objects.get(code="EPL")])
    cb = world.team.cb.code
    columns = [*(c for c in row(cb, 1) if c != "site_city"), "colour"]
    rows = [
        {**row(cb, 1, standards="IPC-6012:2023"), "colour": "red"},
        {**row(cb, 2, category="PWB.PLT"), "colour": "red"},
        {**row(cb, 3, category="EPL.NIAU"), "colour": "red"},  # inside: EPL's child
    ]
    before = counts()

    report = run(world, csv_file(rows, columns))

    assert {(p.row, p.column, p.code) for p in report.problems} == {
        (1, "colour", errors.IMPORT_COLUMN_UNKNOWN),
        (1, "site_city", errors.IMPORT_COLUMN_MISSING),
    }
    columns.append("site_city")
    rows = [{**r, "site_city": "Dresden"} for r in rows]
    report = run(world, csv_file(rows, [c for c in columns if c != "colour"]))
    assert {(p.row, p.column, p.code) for p in report.problems} == {
        (2, "standards", errors.IMPORT_STANDARD_NOT_ACCEPTED),
        (3, "category", errors.IMPORT_SCOPE_OUTSIDE_ACCEPTANCE),
    }
    assert counts() == before


def test_an_empty_or_unreadable_file_is_a_problem_of_row_zero(world: World) -> None:
    assert [p.code for p in run(world, b"").problems] == [errors.IMPORT_FILE_EMPTY]
    assert [p.code for p in run(world, csv_file([])).problems] == [errors.IMPORT_FILE_EMPTY]
    report = run(world, b"\xff\xfe\x00garbage", file_format="csv")
    assert [(p.row, p.code) for p in report.problems] == [(0, errors.IMPORT_FILE_UNREADABLE)]
    report = run(world, b"PK\x03\x04 not really a workbook", file_format="xlsx")
    assert [(p.row, p.code) for p in report.problems] == [(0, errors.IMPORT_FILE_UNREADABLE)]


# --- writing: once, all of it, and its derived data ------------------------------------


def test_a_dry_run_writes_nothing_and_says_what_a_commit_would_do(world: World) -> None:
    before = counts()
    report = run(world, csv_file(good_rows(world.team.cb.code)), dry_run=True)
    assert report.problems == []
    assert (report.rows, report.certificates, report.new) == (5, 4, 4)
    assert not report.committed
    assert counts() == before


def test_the_same_good_file_twice_writes_once(world: World, key_dir: Path) -> None:
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    data = csv_file(good_rows(world.team.cb.code))
    before = counts()

    first = run(world, data)
    after_first = counts()
    second = run(world, data)

    assert first.committed and (first.new, first.changed, first.unchanged) == (4, 0, 0)
    assert after_first["Certificate"] == before["Certificate"] + 4
    assert after_first["CertificateIssue"] == before["CertificateIssue"] + 4
    # one event per certificate and one for the file
    assert after_first["AuditEvent"] == before["AuditEvent"] + 5
    assert not second.committed and (second.new, second.changed, second.unchanged) == (0, 0, 4)
    assert counts() == after_first
    assert ImportBatch.objects.count() == 1
    assert audit_chain_verify().ok


def test_imported_certificates_keep_their_numbers_and_dates_and_the_derived_data_is_right(
    world: World, key_dir: Path
) -> None:
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    cb = world.team.cb.code

    report = run(world, csv_file(good_rows(cb)))

    assert report.committed
    first = Certificate.objects.get(number=f"IECQ-A {cb} 24.0001")
    assert (first.first_issued_on, first.expires_on, first.status, first.status_since) == (
        dt.date(2024, 3, 14), dt.date(2027, 3, 13), "current", dt.date(2024, 3, 14),
    )  # fmt: skip
    issue = first.issues.get()
    assert [(line["category"], line["site_name"]) for line in issue.scope_lines] == [
        ("EPL", "Main plant"),
        ("PWB", "Second plant"),
    ]
    assert [s["designation"] for s in issue.standards] == ["IPC-6012", "ISO 9001"]
    suspended = Certificate.objects.get(number=f"IECQ-A {cb} 24.0002")
    assert (suspended.status, suspended.status_since) == ("suspended", dt.date(2026, 2, 1))
    assert list(
        suspended.status_changes.values_list("from_status", "to_status", "reason_category")
    ) == [("draft", "current", "granted"), ("current", "suspended", "complaint")]
    expired = Certificate.objects.get(number=f"IECQ-A {cb} 21.0003")
    assert (expired.number_year, expired.number_serial, expired.status) == (2021, 3, "expired")
    # the surveillance the earlier register knew of: the next falls due a year after it
    assert first.lapses_on is not None and first.lapses_on > dt.date(2027, 3, 1)
    assert Assessment.objects.filter(certificate=first).count() == 2
    # no later grant takes an imported serial
    assert CertificateNumberSequence.objects.get(cb=world.team.cb, year=2024).last_serial == 4
    # the derived data is as a rebuild makes it
    assert index_check() == []
    assert status_tallies_problems() == []
    assert visit_schedule_check() == []
    # in the public register and its search; the unpublished site stays private
    page = public_certificate(first.number)
    assert page is not None and page.current_issue_number == 1
    public = Client().get(f"/certificates/{first.number}")
    assert public.status_code == 200 and "Holder 1 GmbH" in public.content.decode()
    hits = search(SearchQuery(text="Holder 1 GmbH")).hits
    assert first.number in [h.number for h in hits]
    withdrawn = Certificate.objects.get(number=f"IECQ-A {cb} 24.0004")
    assert withdrawn.issues.get().sites[0]["published"] is False
    # signed like the others, and the credentials verify
    trust = credential_selectors.trust_store()
    credentials = IssueCredential.objects.filter(issue__certificate__in=[first, suspended])
    assert credentials.count() == 2
    for credential in credentials:
        assert verify_credential(credential.credential, trust=trust).valid
    # the audit trail: each certificate's import, then the file's
    events = AuditEvent.objects.filter(action="certificate.import")
    assert events.count() == 4
    assert events.get(object_id=str(first.pk)).after["rows"] == [2, 3]
    assert AuditEvent.objects.filter(action="import.commit").count() == 1


def test_a_corrected_file_changes_only_what_it_corrects(world: World, key_dir: Path) -> None:
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    cb = world.team.cb.code
    rows = good_rows(cb)
    run(world, csv_file(rows))
    before = counts()
    untouched = Certificate.objects.get(number=f"IECQ-A {cb} 24.0004")
    untouched_state = (untouched.status, untouched.current_issue_number, untouched.expires_on)
    # Corrected: certificate 1's second line gets another standard; certificate 2 is
    # withdrawn now; a new certificate 5.
    rows[1]["standards"] = "ISO 9001:2015"
    rows[2].update(status="withdrawn", status_since="2026-06-01", status_reason="complaint")
    rows.append(row(cb, 5))

    report = run(world, csv_file(rows))

    assert report.committed, report.problems
    assert (report.new, report.changed, report.unchanged) == (1, 2, 2)
    after = counts()
    assert after["Certificate"] == before["Certificate"] + 1
    # one new issue (certificate 1: its scope changed) and certificate 5's first
    assert after["CertificateIssue"] == before["CertificateIssue"] + 2
    first = Certificate.objects.get(number=f"IECQ-A {cb} 24.0001")
    latest = first.issues.order_by("-issue_number").first()
    assert latest is not None and latest.issue_number == 2
    assert latest.change_summary == "Standard removed from PWB at Second plant: IPC-6012:2023"
    second = Certificate.objects.get(number=f"IECQ-A {cb} 24.0002")
    assert (second.status, second.status_since) == ("withdrawn", dt.date(2026, 6, 1))
    assert second.current_issue_number == 1
    untouched.refresh_from_db()
    assert (untouched.status, untouched.current_issue_number, untouched.expires_on) == (
        untouched_state
    )
    updates = AuditEvent.objects.filter(action="certificate.import_update")
    assert sorted(updates.values_list("object_repr", flat=True)) == [first.number, second.number]
    assert index_check() == []
    assert status_tallies_problems() == []
    assert visit_schedule_check() == []
    # and the corrected file again changes nothing
    again = run(world, csv_file(rows))
    assert (again.new, again.changed, again.unchanged, again.committed) == (0, 0, 5, False)
    assert audit_chain_verify().ok


def test_a_correction_the_lifecycle_does_not_allow_or_a_new_grant_date_is_refused(
    world: World,
) -> None:
    cb = world.team.cb.code
    rows = good_rows(cb)
    run(world, csv_file(rows))
    before = counts()
    rows[4].update(status="current", status_since="", status_reason="")  # withdrawn -> current
    rows[2].update(granted_on="2024-03-15")

    report = run(world, csv_file(rows))

    assert {(p.row, p.code) for p in report.problems} == {
        (4, errors.IMPORT_GRANT_DATE_FIXED),
        (6, errors.IMPORT_STATUS_NOT_REACHABLE),
    }
    assert counts() == before


def test_a_number_granted_in_the_register_is_never_written_over(world: World) -> None:
    granted = world.granted()
    number = granted.number
    cb = world.team.cb.code
    serial = number.split()[-1].split(".")[1]
    rows = [
        row(cb, int(serial), number=number, granted_on=granted.first_issued_on.isoformat(),
            expires_on=granted.expires_on.isoformat())
    ]  # fmt: skip
    before = counts()
    report = run(world, csv_file(rows))
    assert [(p.row, p.code) for p in report.problems] == [(2, errors.IMPORT_NUMBER_TAKEN)]
    assert counts() == before


def test_a_holder_the_register_knows_otherwise_is_a_conflict(world: World) -> None:
    cb = world.team.cb.code
    rows = [row(cb, 1, holder_registration_number=world.org.registration_number)]
    report = run(world, csv_file(rows))
    assert [(p.row, p.code) for p in report.problems] == [(2, errors.IMPORT_HOLDER_CONFLICT)]
    # with the register's details, the certificate goes to the holder it knows
    rows[0].update(holder_name=world.org.legal_name, holder_registration_authority="",
                   holder_address="")  # fmt: skip
    report = run(world, csv_file(rows))
    assert report.committed, report.problems
    assert Certificate.objects.get(number=rows[0]["number"]).organization == world.org


def test_xlsx_gives_what_csv_gives(world: World) -> None:
    cb = world.team.cb.code
    report = run(world, xlsx_file(good_rows(cb)), dry_run=True)
    assert report.problems == [] and report.new == 4
    report = register_import(
        actor=world.secretariat, data=xlsx_file(good_rows(cb)), file_name="register.xlsx",
        cb=None,
    )  # fmt: skip
    assert report.committed
    # the same register as CSV: nothing changes
    again = run(world, csv_file(good_rows(cb)))
    assert (again.unchanged, again.committed) == (4, False)


# --- who may import ----------------------------------------------------------------------


def test_a_cb_s_scheme_manager_imports_for_their_cb_only(world: World) -> None:
    other = World.make_cb(world.secretariat, "OTH", dt.date(2020, 1, 1))
    mine = world.team.cb.code
    rows = [row(mine, 1), row("OTH", 2, number="IECQ-A OTH 24.0002")]
    before = counts()

    report = run(world, csv_file(rows), actor=world.team.manager, cb=world.team.cb)
    assert [(p.row, p.code) for p in report.problems] == [(3, errors.IMPORT_CB_NOT_ALLOWED)]
    assert counts() == before
    # CB A's manager cannot import for CB B at all, nor for every CB
    with pytest.raises(PermissionDenied) as refused:
        run(world, csv_file(rows[1:]), actor=world.team.manager, cb=other.cb)
    assert refused.value.code == PERMISSION_CB_ROLE_REQUIRED
    with pytest.raises(PermissionDenied) as refused:
        run(world, csv_file(rows), actor=world.team.manager, cb=None)
    assert refused.value.code == PERMISSION_SECRETARIAT_REQUIRED
    # an assessor of the CB may not import
    with pytest.raises(PermissionDenied):
        run(world, csv_file(rows[:1]), actor=world.team.assessor, cb=world.team.cb)
    # the manager's own rows are written
    report = run(world, csv_file(rows[:1]), actor=world.team.manager, cb=world.team.cb)
    assert report.committed
    # the Secretariat imports for any CB
    report = run(world, csv_file(rows[1:]))
    assert report.committed
    assert counts()["Certificate"] == before["Certificate"] + 2


def test_a_cb_admin_may_import_for_the_cb(world: World) -> None:
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    report = run(world, csv_file([row(world.team.cb.code, 1)]), actor=admin, cb=world.team.cb)
    assert report.committed
