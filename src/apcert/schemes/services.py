"""Loading the reference data files into the database, idempotently."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone

from apcert.audit.services import audit_record
from apcert.core.errors import ValidationFailed
from apcert.core.permissions import require_secretariat
from apcert.schemes.choices import StandardStatus, SuspensionEndAction
from apcert.schemes.derived import scheme_rules_changed
from apcert.schemes.errors import (
    REFERENCE_BAD_DATE,
    REFERENCE_BAD_STANDARD_REF,
    REFERENCE_BAD_VALUE,
    REFERENCE_FILE_MISSING,
    REFERENCE_INVALID_FILE,
    REFERENCE_MISSING_KEY,
    REFERENCE_UNKNOWN_CATEGORY,
    REFERENCE_UNKNOWN_SCHEME,
    REFERENCE_UNKNOWN_STANDARD,
    SCHEME_NO_RULES,
)
from apcert.schemes.models import (
    ProcessCategory,
    Programme,
    ReferenceDataFile,
    Scheme,
    SchemeRules,
    Standard,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User

DATA_DIR = Path(__file__).with_name("data")
FILES = ("schemes.toml", "standards.toml", "programmes.toml", "process_categories.toml")

RULE_FIELDS = (
    "certificate_letter",
    "number_format",
    "validity_months",
    "first_surveillance_months",
    "surveillance_interval_months",
    "surveillance_window_days",
    "nonconformity_due_days",
    "initial_major_verification_months",
    "max_suspension_months",
    "suspension_end_action",
    "defaults",
    "sources",
)


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    created_now: set[str] = field(default_factory=set)

    def count(self, kind: str, outcome: str, what: str = "") -> None:
        bucket: dict[str, int] = getattr(self, outcome)
        bucket[kind] = bucket.get(kind, 0) + 1
        if outcome != "unchanged" and what:
            self.changes.append(f"{outcome} {kind} {what}")

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _read(data_dir: Path, name: str) -> tuple[dict[str, Any], str]:
    path = data_dir / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValidationFailed(
            f"Reference data file {path} is missing.", code=REFERENCE_FILE_MISSING
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    parsed = _PARSED.get(digest)
    if parsed is None:
        try:
            parsed = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed(
                f"Reference data file {name} is not valid TOML: {exc}",
                code=REFERENCE_INVALID_FILE,
            ) from None
        if len(_PARSED) >= 32:
            _PARSED.clear()
        _PARSED[digest] = parsed
    return copy.deepcopy(parsed), digest


#: Files already parsed in this process, by the SHA-256 of their bytes: the same bytes
#: parse to the same document, so a reload (each test's, a second ``load-reference``)
#: does not parse them again.
_PARSED: dict[str, dict[str, Any]] = {}


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry or entry[key] in ("", None):
        raise ValidationFailed(f"{where}: the key '{key}' is required.", code=REFERENCE_MISSING_KEY)
    return entry[key]


def _upsert(
    report: LoadReport,
    kind: str,
    model: type[models.Model],
    lookup: dict[str, Any],
    values: dict[str, Any],
    existing: dict[Any, Any],
    pending: list[Any] | None = None,
) -> Any:
    """Create the row of ``lookup`` or bring it to ``values``. ``existing`` holds the
    table's rows as read once at the start of the load, keyed as the caller keys them
    (the lookup's values, a related row by its id): one read per table, not one per row.
    With ``pending``, a new row is only made, and added there for the caller to insert
    with the others (:func:`_insert_pending`)."""
    key = tuple(v.pk if isinstance(v, models.Model) else v for v in lookup.values())
    obj = existing.get(key)
    label = " ".join(str(v) for v in lookup.values())
    if obj is None:
        if pending is None:
            obj = model._default_manager.create(**lookup, **values)
        else:
            obj = model(**lookup, **values)
            pending.append(obj)
        existing[key] = obj
        report.count(kind, "created", label)
        report.created_now.add(f"{kind}:{label}")
        return obj
    changed = [k for k, v in values.items() if _stored(obj, k) != _comparable(v)]
    if changed:
        for k in changed:
            setattr(obj, k, values[k])
        obj.save(update_fields=changed)
        report.count(kind, "updated", f"{label} ({', '.join(changed)})")
    else:
        report.count(kind, "unchanged")
    return obj


def _stored(obj: models.Model, name: str) -> Any:
    """A field's stored value; a related row by its id, so that no comparison reads it."""
    field = obj._meta.get_field(name)
    if isinstance(field, models.ForeignKey):
        return getattr(obj, field.attname)
    return getattr(obj, name)


def _comparable(value: Any) -> Any:
    return value.pk if isinstance(value, models.Model) else value


def _insert_pending(model: type[models.Model], pending: list[Any]) -> None:
    """Insert the new rows a few statements at a time: first those whose related rows are
    all stored, then those that point at the rows just stored (a category under a new one)."""
    relations = [f for f in model._meta.concrete_fields if isinstance(f, models.ForeignKey)]

    def ready(obj: Any) -> bool:
        for relation in relations:
            target = relation.get_cached_value(obj, default=None)
            if target is not None and target.pk is None:
                return False
        return True

    while pending:
        batch = [obj for obj in pending if ready(obj)]
        if not batch:  # a cycle: cannot happen with parents listed before their children
            raise ValidationFailed(
                f"{model._meta.verbose_name}: rows point at each other.", code=REFERENCE_BAD_VALUE
            )
        model._default_manager.bulk_create(batch)
        pending[:] = [obj for obj in pending if obj.pk is None]


def _rows(model: type[models.Model], *keys: str) -> dict[Any, Any]:
    """Every row of ``model`` keyed by the tuple of ``keys`` (attribute names)."""
    return {tuple(getattr(obj, k) for k in keys): obj for obj in model._default_manager.all()}


def _split_ref(ref: str, where: str) -> tuple[str, str]:
    designation, sep, edition = ref.rpartition(":")
    if not sep or not designation or not edition:
        raise ValidationFailed(
            f"{where}: '{ref}' is not a standard reference of the form DESIGNATION:EDITION.",
            code=REFERENCE_BAD_STANDARD_REF,
        )
    return designation, edition


def _as_date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValidationFailed(
        f"{where}: dates are written as TOML dates (YYYY-MM-DD).", code=REFERENCE_BAD_DATE
    )


def reference_load(
    *,
    actor: User | None,
    data_dir: Path | None = None,
    system: bool = False,
    log: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load or update the reference data. Twice in a row: the second changes nothing.

    ``system`` marks an install-time load (``apcert load-reference``) that runs with no
    signed-in user; otherwise only the Secretariat may change reference data.
    """
    if not system:
        require_secretariat(actor)
    data_dir = data_dir or DATA_DIR
    docs: dict[str, tuple[dict[str, Any], str]] = {name: _read(data_dir, name) for name in FILES}
    report = LoadReport()
    with transaction.atomic():
        _load_schemes(report, docs["schemes.toml"][0])
        standards = _load_standards(report, docs["standards.toml"][0])
        _load_programmes(report, docs["programmes.toml"][0], standards)
        _load_categories(report, docs["process_categories.toml"][0])
        now = timezone.now()
        files = {obj.name: obj for obj in ReferenceDataFile.objects.all()}
        for name, (doc, digest) in docs.items():
            version = str(doc.get("version", ""))
            record = files.get(name)
            if record is None or (record.sha256, record.version) != (digest, version):
                ReferenceDataFile.objects.update_or_create(
                    name=name, defaults={"version": version, "sha256": digest, "loaded_at": now}
                )
                report.count(
                    "file", "created" if record is None else "updated", f"{name} v{version}"
                )
        if report.changed:
            audit_record(
                actor=actor,
                action="reference.load",
                object_type="schemes.reference",
                object_id="reference-data",
                after={
                    "files": {
                        n: {"version": str(d.get("version", "")), "sha256": h}
                        for n, (d, h) in docs.items()
                    },
                    "created": report.created,
                    "updated": report.updated,
                    "changes": report.changes[:500],
                },
                reason="reference data files loaded",
            )
    if log is not None:
        for line in report.changes:
            log(line)
    return report


def _load_schemes(report: LoadReport, doc: dict[str, Any]) -> None:
    schemes, all_rules = _rows(Scheme, "code"), _rows(SchemeRules, "scheme_id")
    for entry in doc.get("scheme", []):
        code = _require(entry, "code", "schemes.toml")
        scheme = _upsert(
            report,
            "scheme",
            Scheme,
            {"code": code},
            {
                "name": _require(entry, "name", f"scheme {code}"),
                "rules_document": entry.get("rules_document", ""),
                "description": entry.get("description", "").strip(),
                "supported": bool(entry.get("supported", False)),
            },
            schemes,
        )
        rules = _require(entry, "rules", f"scheme {code}")
        values = {}
        for key in RULE_FIELDS:
            if key in ("defaults", "sources"):
                values[key] = rules.get(key, [] if key == "defaults" else {})
            else:
                values[key] = _require(rules, key, f"rules of scheme {code}")
        if "publication_review" in rules:
            # Only when the file names it: otherwise a reload keeps the Secretariat's choice.
            if not isinstance(rules["publication_review"], bool):
                raise ValidationFailed(
                    f"rules of scheme {code}: publication_review must be true or false.",
                    code=REFERENCE_BAD_VALUE,
                )
            values["publication_review"] = rules["publication_review"]
        if values["suspension_end_action"] not in SuspensionEndAction.values:
            raise ValidationFailed(
                f"rules of scheme {code}: suspension_end_action must be one of "
                f"{', '.join(SuspensionEndAction.values)}.",
                code=REFERENCE_BAD_VALUE,
            )
        try:
            values["number_format"].format(letter="A", cb_code="X", yy="26", serial=1)
        except (KeyError, IndexError, ValueError):
            raise ValidationFailed(
                f"rules of scheme {code}: number_format may use only {{letter}}, {{cb_code}}, "
                "{yy} and {serial}.",
                code=REFERENCE_BAD_VALUE,
            ) from None
        stored = all_rules.get((scheme.pk,))
        before = None if stored is None else {k: getattr(stored, k) for k in values}
        _upsert(report, "scheme rules", SchemeRules, {"scheme": scheme}, values, all_rules)
        if before is not None and before != values:
            # What is computed from the rules (the audit programme of every live
            # certificate of the scheme) moves with them.
            scheme_rules_changed(scheme_id=scheme.pk, before=before, after=values)


def _load_standards(report: LoadReport, doc: dict[str, Any]) -> dict[str, Standard]:
    """Returns every edition in the file by its reference (``ISO 9001:2015``)."""
    entries = doc.get("standard", [])
    existing = _rows(Standard, "designation", "edition")
    new: list[Standard] = []
    by_ref: dict[str, Standard] = {}
    for entry in entries:
        designation = _require(entry, "designation", "standards.toml")
        edition = str(_require(entry, "edition", f"standard {designation}"))
        where = f"standard {designation}:{edition}"
        status = entry.get("status", StandardStatus.CURRENT)
        if status not in StandardStatus.values:
            raise ValidationFailed(f"{where}: unknown status '{status}'.", code=REFERENCE_BAD_VALUE)
        if status == StandardStatus.SUPERSEDED and not entry.get("superseded_by"):
            raise ValidationFailed(
                f"{where}: a superseded edition must name superseded_by.",
                code=REFERENCE_MISSING_KEY,
            )
        obj = _upsert(
            report,
            "standard",
            Standard,
            {"designation": designation, "edition": edition},
            {
                "title": _require(entry, "title", where),
                "status": status,
                "withdrawn_on": _as_date(entry.get("withdrawn_on"), where),
                "accepted_for_iecq": bool(entry.get("accepted_for_iecq", True)),
            },
            existing,
            new,
        )
        by_ref[f"{designation}:{edition}"] = obj
    _insert_pending(Standard, new)
    # Second pass: links between editions, once every edition exists.
    for entry in entries:
        ref = f"{entry['designation']}:{entry['edition']}"
        target_ref = entry.get("superseded_by")
        target = None
        if target_ref:
            _split_ref(target_ref, f"standard {ref}")
            target = by_ref.get(target_ref)
            if target is None:
                raise ValidationFailed(
                    f"standard {ref}: superseded_by '{target_ref}' is not in standards.toml.",
                    code=REFERENCE_UNKNOWN_STANDARD,
                )
        obj = by_ref[ref]
        if obj.superseded_by_id != (target.pk if target else None):
            obj.superseded_by = target
            obj.save(update_fields=["superseded_by"])
            if f"standard:{obj.designation} {obj.edition}" not in report.created_now:
                report.count("standard", "updated", f"{ref} (superseded_by)")
    return by_ref


def _load_programmes(
    report: LoadReport, doc: dict[str, Any], standards: dict[str, Standard]
) -> None:
    schemes = {obj.code: obj for obj in Scheme.objects.all()}
    existing = _rows(Programme, "code")
    have_by_programme: dict[int, set[int]] = {}
    for programme_id, standard_id in Programme.key_standards.through.objects.values_list(
        "programme_id", "standard_id"
    ):
        have_by_programme.setdefault(programme_id, set()).add(standard_id)
    for entry in doc.get("programme", []):
        code = _require(entry, "code", "programmes.toml")
        scheme_code = _require(entry, "scheme", f"programme {code}")
        scheme = schemes.get(scheme_code)
        if scheme is None:
            raise ValidationFailed(
                f"programme {code}: unknown scheme '{scheme_code}'.",
                code=REFERENCE_UNKNOWN_SCHEME,
            )
        programme = _upsert(
            report,
            "programme",
            Programme,
            {"code": code},
            {
                "scheme": scheme,
                "name": _require(entry, "name", f"programme {code}"),
                "description": entry.get("description", "").strip(),
            },
            existing,
        )
        wanted = set()
        for ref in entry.get("key_standards", []):
            designation, edition = _split_ref(ref, f"programme {code}")
            std = standards.get(f"{designation}:{edition}")
            if std is None:
                raise ValidationFailed(
                    f"programme {code}: key standard '{ref}' is not in standards.toml.",
                    code=REFERENCE_UNKNOWN_STANDARD,
                )
            wanted.add(std.pk)
        have = have_by_programme.get(programme.pk, set())
        if wanted != have:
            programme.key_standards.set(wanted)
            if f"programme:{code}" not in report.created_now:
                report.count("programme", "updated", f"{code} (key_standards)")


def _load_categories(report: LoadReport, doc: dict[str, Any]) -> None:
    existing = _rows(ProcessCategory, "code")
    new: list[ProcessCategory] = []
    listed: dict[str, ProcessCategory] = {}
    for entry in doc.get("category", []):
        code = _require(entry, "code", "process_categories.toml")
        parent = None
        if entry.get("parent"):
            parent = listed.get(entry["parent"]) or existing.get((entry["parent"],))
            if parent is None:
                raise ValidationFailed(
                    f"process category {code}: parent '{entry['parent']}' must be listed "
                    "before it.",
                    code=REFERENCE_UNKNOWN_CATEGORY,
                )
        _upsert(
            report,
            "process category",
            ProcessCategory,
            {"code": code},
            {
                "name": _require(entry, "name", f"process category {code}"),
                "parent": parent,
                "is_design": bool(entry.get("is_design", False)),
                "description": entry.get("description", "").strip(),
            },
            existing,
            new,
        )
        listed[code] = existing[(code,)]
    _insert_pending(ProcessCategory, new)


def scheme_publication_review_set(*, actor: User, scheme: Scheme, enabled: bool) -> SchemeRules:
    """Turn the Secretariat's review of new certificates before publication on or off for
    ``scheme``. Certificates already awaiting review stay so until reviewed."""
    require_secretariat(actor)
    with transaction.atomic():
        rules = SchemeRules.objects.select_for_update().filter(scheme=scheme).first()
        if rules is None:
            raise ValidationFailed(
                f"Scheme {scheme.code} has no rules loaded.", code=SCHEME_NO_RULES
            )
        before = rules.publication_review
        if before == enabled:
            return rules
        rules.publication_review = enabled
        rules.save(update_fields=["publication_review"])
        audit_record(
            actor=actor,
            action="scheme.publication_review_set",
            obj=rules,
            before={"publication_review": before},
            after={"publication_review": enabled, "scheme": scheme.code},
        )
    return rules
