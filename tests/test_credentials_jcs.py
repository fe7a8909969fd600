"""The fast JSON canonicalization gives the bytes of the ``rfc8785`` library, the reference,
on every JSON shape, and refuses what it refuses; the fast path is taken on apcert's own
credentials and left for anything it cannot write exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from apcert.credentials import jcs, services
from apcert.credentials.proofs import parse_proof
from tests.credentials_support import key_dir
from tests.factories import World

__all__ = ["key_dir"]

# Every code point but the surrogates: the whole of Unicode a JSON text can hold.
_CHARACTERS = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=["Cs"])
# Names and texts drawn from the characters where the orders and escapes differ: controls,
# U+007F, U+2028/2029, the private use area just below the surrogates' sort place, and
# characters above U+FFFF.
_TRICKY = st.sampled_from(
    ["\x00", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1f", '"', "\\", "/", "\x7f",
     "\u2028", "\u2029", "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0001f600",
     "\U0010ffff", "é", "a", "A", "1"]
)  # fmt: skip
_TEXT = st.text(st.one_of(_CHARACTERS, _TRICKY), max_size=8)
_INTEGERS = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2),
    st.sampled_from([2**53 - 1, -(2**53) + 1, 2**53, -(2**53), 2**64, -(2**70)]),
    st.integers(),
)
_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
_SCALARS = st.one_of(st.none(), st.booleans(), _INTEGERS, _FLOATS, _TEXT)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_TEXT, children, max_size=5)
    ),
    max_leaves=30,
)


def _outcome(canonicalize: Any, value: Any) -> tuple[str, Any]:
    """What a canonicalization gives: its bytes, or the kind of error it raises."""
    try:
        return "bytes", canonicalize(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        return "refused", type(exc)


@settings(max_examples=1500, deadline=None)
@given(_JSON)
@example({"\ue000": 1, "\U0001f600": 2})  # UTF-16 puts the astral name first
@example({"a\U00010000": 1, "a\uffff": 2, "a": 3})
@example(['\x00\x01\x08\t\n\x0b\x0c\r\x1f\x7f\u2028\u2029"\\/'])
@example([2**53 - 1, -(2**53) + 1])
@example([2**53])
@example([0.0, -0.0, 1.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.1])
@example({"nested": [{"b": True, "a": None, "c": [[]]}, {}]})
def test_fast_canonicalization_equals_rfc8785_on_every_json_shape(value: Any) -> None:
    assert _outcome(jcs.dumps, value) == _outcome(rfc8785.dumps, value)


# What apcert's documents are made of: the fast path's whole domain, names of the Basic
# Multilingual Plane (any text in values).
_BMP_TEXT = st.text(
    st.one_of(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), _TRICKY).filter(
        lambda c: c < "\U00010000"
    ),
    max_size=8,
)
_FAST_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
        _TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_BMP_TEXT, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(_FAST_JSON)
def test_on_the_fast_paths_domain_it_is_taken_and_exact(value: Any) -> None:
    assert jcs.in_fast_domain(value)
    assert jcs.dumps(value) == rfc8785.dumps(value)


@given(st.text(_CHARACTERS, max_size=5), st.sampled_from(["\ud800", "\udfff", "a\udc00b"]))
def test_a_lone_surrogate_is_refused_as_the_reference_refuses_it(text: str, lone: str) -> None:
    for value in (text + lone, {text + lone: 1}, [1, {"k": lone}]):
        refused = _outcome(jcs.dumps, value)
        assert refused[0] == "refused"
        assert refused == _outcome(rfc8785.dumps, value)


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"x": 1.5},  # a float
        [2**53],  # an integer JCS cannot hold
        {"\U0001f600": 1},  # a name above U+FFFF
        {1: "one"},  # a name that is not a string
        ("a", "b"),  # a tuple
        [_Text("sub")],  # a subclass
        {"deep": [{"x": float("nan")}]},
        b"bytes",
    ],
)
def test_what_the_fast_path_cannot_write_exactly_is_left_to_the_reference(value: Any) -> None:
    assert not jcs.in_fast_domain(value)
    assert _outcome(jcs.dumps, value) == _outcome(rfc8785.dumps, value)


def test_a_value_that_holds_itself_is_refused_not_walked_for_ever() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert not jcs.in_fast_domain(cycle)
    with pytest.raises(RecursionError):
        jcs.dumps(cycle)


@pytest.mark.django_db
def test_apcert_credentials_take_the_fast_path_and_canonicalize_as_the_reference(
    world: World, key_dir: Path
) -> None:
    # Given a signed credential of a granted certificate, and the same read back from JSON
    certificate = world.granted()
    issue = certificate.issues.select_related("certificate__cb", "certificate__scheme").get(
        issue_number=certificate.current_issue_number
    )
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    credential = services.issue_credential(issue)
    read_back = json.loads(json.dumps(credential))

    # Then both are in the fast path's domain, and each part signed canonicalizes alike
    for document in (credential, read_back):
        assert jcs.in_fast_domain(document)
        unsecured = {k: v for k, v in document.items() if k != "proof"}
        config = {k: v for k, v in document["proof"].items() if k != "proofValue"}
        for part in (document, unsecured, config):
            assert jcs.dumps(part) == rfc8785.dumps(part)
        # and the signed hash is the same whichever canonicalization made it
        assert parse_proof(document).hash_data == parse_proof(credential).hash_data
