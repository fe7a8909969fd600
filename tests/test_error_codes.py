"""Every error code is declared once, spelled ``<entity>.<reason>``, raised somewhere and
asserted by some test.

Each app declares its codes as constants in ``<app>/errors.py`` (the shared ``invalid.*`` and
``permission.*`` codes in ``core/errors.py``) and its services raise with the constant. A
lifecycle table's refusal code, ``<entity>.transition_not_allowed``, is built by the table
from its entity: it is declared with its app's codes too, and counts as raised because the
table raises it.

A code counts as asserted when a test names it, by its string (``exc.code == "..."``,
``match=``, ``code=``) or by its constant.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import apcert
from apcert.core.lifecycle import TransitionTable

SRC = Path(apcert.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
CODE = re.compile(r"[a-z][a-z_0-9]*(\.[a-z][a-z_0-9]*)?")
LITERAL_CODE = re.compile(r"""\bcode=(["'])([a-z_]+(?:\.[a-z_0-9]+)*)\1""")


def _production_sources() -> dict[Path, str]:
    return {
        path: path.read_text(encoding="utf-8")
        for path in sorted(SRC.rglob("*.py"))
        if "migrations" not in path.parts and "demo" not in path.parts
    }


def _declared() -> dict[str, tuple[str, str]]:
    """code -> (errors module, constant name), for every code constant of every app."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(SRC.glob("*/errors.py")):
        module_name = f"apcert.{path.parent.name}.errors"
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and CODE.fullmatch(value):
                assert value not in out, f"{value} is declared twice: {out[value]}, {name}"
                out[value] = (module_name, name)
    return out


def _tables() -> list[TransitionTable]:
    tables = []
    for path in sorted(SRC.glob("*/lifecycle.py")):
        module = importlib.import_module(f"apcert.{path.parent.name}.lifecycle")
        tables += [v for v in vars(module).values() if isinstance(v, TransitionTable)]
    return tables


DECLARED = _declared()
SOURCES = _production_sources()
TEST_TEXT = "\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted(TESTS.rglob("*.py"))
    if p.name != Path(__file__).name
)


def test_codes_are_declared() -> None:
    assert len(DECLARED) > 100


def test_codes_are_spelled_entity_dot_reason() -> None:
    # ``invalid`` alone is the code of any malformed input that has no more precise one.
    misspelled = [
        f"{module}.{name} = {code!r}"
        for code, (module, name) in DECLARED.items()
        if code != "invalid" and not re.fullmatch(r"[a-z][a-z_0-9]*\.[a-z][a-z_0-9]*", code)
    ]
    assert misspelled == []


def test_services_raise_with_the_constant_not_a_string() -> None:
    literals = [
        f"{path.relative_to(SRC)}: {m.group(2)}"
        for path, text in SOURCES.items()
        if path.name != "errors.py"
        for m in LITERAL_CODE.finditer(text)
    ]
    assert literals == []


def test_every_lifecycle_table_declares_its_refusal_code() -> None:
    tables = _tables()
    assert {t.entity for t in tables} >= {
        "application",
        "assessment",
        "finding",
        "corrective_action",
        "cb_acceptance",
        "certificate",
        "publication_review",
    }
    missing = [t.refusal_code for t in tables if t.refusal_code not in DECLARED]
    assert missing == []


def _lookups() -> dict[str, set[str]]:
    """code -> the names of the errors modules' tables of codes (dicts) that hold it: a
    service that raises ``code=TABLE[key]`` raises every code of that table."""
    out: dict[str, set[str]] = {}
    for path in sorted(SRC.glob("*/errors.py")):
        module = importlib.import_module(f"apcert.{path.parent.name}.errors")
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, dict):
                for code in value.values():
                    out.setdefault(code, set()).add(name)
    return out


def _used_in_src(name: str) -> bool:
    used = re.compile(rf"\b{name}\b")
    return any(
        path.name != "errors.py" and used.search(text) is not None for path, text in SOURCES.items()
    )


def _raised(code: str) -> bool:
    _, name = DECLARED[code]
    if code in {t.refusal_code for t in _tables()}:
        return True
    return _used_in_src(name) or any(_used_in_src(table) for table in _lookups().get(code, ()))


@pytest.mark.parametrize("code", sorted(DECLARED))
def test_code_is_raised_somewhere(code: str) -> None:
    assert _raised(code), f"{code} is declared but nothing raises it: remove it"


def _asserted(code: str) -> bool:
    _, name = DECLARED[code]
    return (
        f'"{code}"' in TEST_TEXT
        or f"'{code}'" in TEST_TEXT
        or re.search(rf"\b{name}\b", TEST_TEXT) is not None
    )


@pytest.mark.parametrize("code", sorted(DECLARED))
def test_code_is_asserted_by_a_test(code: str) -> None:
    assert _asserted(code), f"no test asserts {code}"
