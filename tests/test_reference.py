"""Reference data: loaded from the shipped files, idempotently; a changed file updates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apcert.audit.models import AuditEvent
from apcert.core.errors import PermissionDenied, ValidationFailed
from apcert.schemes.errors import (
    REFERENCE_BAD_DATE,
    REFERENCE_BAD_STANDARD_REF,
    REFERENCE_UNKNOWN_SCHEME,
)
from apcert.schemes.models import (
    ProcessCategory,
    Programme,
    ReferenceDataFile,
    Scheme,
    SchemeRules,
    Standard,
)
from apcert.schemes.services import DATA_DIR, FILES, reference_load
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count()
        for m in (Scheme, SchemeRules, Programme, ProcessCategory, Standard, ReferenceDataFile)
    )


def test_first_load_creates_everything_in_the_files() -> None:
    report = reference_load(actor=None, system=True)

    assert report.changed
    assert set(Scheme.objects.values_list("code", flat=True)) == {"AP", "AC", "HSPM", "ITL"}
    assert list(Scheme.objects.filter(supported=True).values_list("code", flat=True)) == ["AP"]
    ap = SchemeRules.objects.get(scheme__code="AP")
    assert (ap.certificate_letter, ap.validity_months, ap.nonconformity_due_days) == ("A", 36, 90)
    assert ap.max_suspension_months == 6
    assert ap.initial_major_verification_months == 6
    assert "validity_months" in ap.defaults
    assert Programme.objects.filter(code="AP-CAP").exists()
    assert ProcessCategory.objects.filter(parent__isnull=True).count() >= 10
    old = Standard.objects.get(designation="ISO 9001", edition="2008")
    assert old.status == "superseded"
    assert old.superseded_by == Standard.objects.get(designation="ISO 9001", edition="2015")
    assert ReferenceDataFile.objects.count() == len(FILES)
    assert AuditEvent.objects.filter(action="reference.load").count() == 1


def test_loading_twice_changes_nothing_and_writes_no_event() -> None:
    reference_load(actor=None, system=True)
    counts = _counts()
    events = AuditEvent.objects.count()

    report = reference_load(actor=None, system=True)

    assert not report.changed
    assert _counts() == counts
    assert AuditEvent.objects.count() == events


def test_a_changed_file_updates_only_what_changed(data_dir: Path) -> None:
    reference_load(actor=None, system=True, data_dir=data_dir)
    path = data_dir / "schemes.toml"
    text = path.read_text()
    assert "validity_months = 36" in text
    path.write_text(text.replace("validity_months = 36", "validity_months = 48", 1))

    report = reference_load(actor=None, system=True, data_dir=data_dir)

    assert report.updated == {"scheme rules": 1, "file": 1}
    assert report.created == {}
    changed = SchemeRules.objects.filter(validity_months=48)
    assert changed.count() == 1
    event = AuditEvent.objects.filter(action="reference.load").order_by("-seq").first()
    assert event is not None
    assert any("validity_months" in line for line in event.after["changes"])


def test_a_new_standard_edition_in_the_file_is_added(data_dir: Path) -> None:
    reference_load(actor=None, system=True, data_dir=data_dir)
    with (data_dir / "standards.toml").open("a") as fh:
        fh.write(
            '\n[[standard]]\ndesignation = "IEC 99999"\nedition = "2026"\n'
            'title = "A test standard"\nstatus = "current"\naccepted_for_iecq = true\n'
        )
    report = reference_load(actor=None, system=True, data_dir=data_dir)
    assert report.created == {"standard": 1}
    assert Standard.objects.get(designation="IEC 99999").title == "A test standard"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("schemes.toml", "this is = = not toml", "reference.invalid_file"),
        (
            "standards.toml",
            '[[standard]]\ndesignation = "X"\nedition = "1"\n',
            "reference.missing_key",
        ),
        (
            "standards.toml",
            '[[standard]]\ndesignation = "X"\nedition = "1"\ntitle = "t"\nstatus = "superseded"\n',
            "reference.missing_key",
        ),
        (
            "standards.toml",
            '[[standard]]\ndesignation = "X"\nedition = "1"\ntitle = "t"\nstatus = "current"\n'
            'superseded_by = "Y:2"\n',
            "reference.unknown_standard",
        ),
        (
            "process_categories.toml",
            '[[category]]\ncode = "A.B"\nname = "child"\nparent = "NOPE"\n',
            "reference.unknown_category",
        ),
    ],
)
def test_a_broken_file_is_refused_with_its_reason_and_nothing_is_loaded(
    data_dir: Path, name: str, content: str, code: str
) -> None:
    (data_dir / name).write_text(content)
    with pytest.raises(ValidationFailed) as exc:
        reference_load(actor=None, system=True, data_dir=data_dir)
    assert exc.value.code == code
    assert _counts() == (0, 0, 0, 0, 0, 0)
    assert AuditEvent.objects.count() == 0


def test_a_missing_file_is_named(data_dir: Path) -> None:
    (data_dir / "programmes.toml").unlink()
    with pytest.raises(ValidationFailed) as exc:
        reference_load(actor=None, system=True, data_dir=data_dir)
    assert exc.value.code == "reference.file_missing"
    assert "programmes.toml" in exc.value.message


def test_only_the_secretariat_may_load_reference_data_outside_install() -> None:
    with pytest.raises(PermissionDenied) as exc:
        reference_load(actor=make_user("cbperson"))
    assert exc.value.code == "permission.secretariat_required"
    report = reference_load(actor=make_user("sec", is_secretariat=True))
    assert report.changed
    event = AuditEvent.objects.get(action="reference.load")
    assert event.actor_label.startswith("sec")


def test_the_command_reports_and_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load-reference")
    assert "reference data loaded" in capsys.readouterr().out
    call_command("load-reference")
    assert "reference data up to date" in capsys.readouterr().out


def test_the_command_turns_a_bad_file_into_a_clear_error(data_dir: Path) -> None:
    (data_dir / "schemes.toml").write_text("[[scheme]]\n")
    with pytest.raises(CommandError, match="'code' is required"):
        call_command("load-reference", "--data-dir", str(data_dir))


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        pytest.param(
            "standards.toml",
            '[[standard]]\ndesignation = "X"\nedition = "1"\ntitle = "t"\nstatus = "current"\n'
            'withdrawn_on = "2020-06-30"\n',
            REFERENCE_BAD_DATE,
            id="date-as-a-string",
        ),
        pytest.param(
            "standards.toml",
            '[[standard]]\ndesignation = "X"\nedition = "1"\ntitle = "t"\nstatus = "current"\n'
            'superseded_by = "X 2"\n',
            REFERENCE_BAD_STANDARD_REF,
            id="superseded-by-without-edition",
        ),
        pytest.param(
            "programmes.toml",
            '[[programme]]\nscheme = "AP"\ncode = "AP-X"\nname = "n"\n'
            'key_standards = ["ISO 9001"]\n',
            REFERENCE_BAD_STANDARD_REF,
            id="key-standard-without-edition",
        ),
        pytest.param(
            "programmes.toml",
            '[[programme]]\nscheme = "NOPE"\ncode = "NOPE-X"\nname = "n"\n',
            REFERENCE_UNKNOWN_SCHEME,
            id="programme-of-an-unknown-scheme",
        ),
    ],
)
def test_a_malformed_value_is_refused_with_its_reason_and_nothing_is_loaded(
    data_dir: Path, name: str, content: str, code: str
) -> None:
    # Given: one shipped file replaced by one that names a value the loader cannot take
    (data_dir / name).write_text(content)

    # When
    with pytest.raises(ValidationFailed) as exc:
        reference_load(actor=None, system=True, data_dir=data_dir)

    # Then: the load is refused as a whole, the files before it included
    assert exc.value.code == code
    assert _counts() == (0, 0, 0, 0, 0, 0)
    assert AuditEvent.objects.count() == 0
