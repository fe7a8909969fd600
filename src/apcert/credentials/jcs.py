"""JSON Canonicalization Scheme (RFC 8785), fast for the documents apcert makes.

JCS writes a JSON value with no whitespace, object members sorted by their names' UTF-16
code units, numbers as ECMAScript prints them and strings with the fewest escapes: ``"`` and
``\\`` escaped with a backslash, the controls U+0008, U+0009, U+000A, U+000C and U+000D as
``\\b \\t \\n \\f \\r``, every other control below U+0020 as ``\\u00xx`` (lowercase hex), and
everything else (U+007F, U+2028 and U+2029 included) written as itself, in UTF-8.

``orjson.dumps`` with ``OPT_SORT_KEYS`` writes exactly those bytes for a value made only of
dicts with string keys, lists, strings, ``True``, ``False``, ``None`` and integers JCS accepts
(magnitude at most 2**53 - 1; an ECMAScript number holds them exactly and prints them as
digits), on two conditions, which :func:`in_fast_domain` checks:

- it sorts names by code point, which is the UTF-16 order unless a name holds a character
  above U+FFFF (UTF-16 writes it as surrogates, U+D800 to U+DFFF, which sort below U+E000
  to U+FFFF): such a value goes the slow way;
- the types are exactly these (no float, whose text differs, no subclass, no tuple).

A lone surrogate in a string, which JCS refuses, makes ``orjson`` raise: that value goes the
slow way too, and is refused there. Every value outside the fast path is canonicalized by the
``rfc8785`` library, the reference, which raises what it raises.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

#: The largest magnitude of an integer JCS writes (an IEEE-754 double holds it exactly).
SAFE_INTEGER = 2**53 - 1
#: The first character UTF-16 writes as two code units.
_ASTRAL = "\U00010000"
#: Past this many containers the check gives up and the value goes the slow way (a value
#: that holds itself would otherwise be walked for ever; the slow way refuses it).
MAX_CONTAINERS = 100_000


def in_fast_domain(value: Any) -> bool:
    """Whether ``orjson`` writes ``value`` as JCS does (lone surrogates aside, on which
    ``orjson`` raises)."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return _scalar_in_domain(value)
    stack = [value]
    pop, push = stack.pop, stack.append
    budget = MAX_CONTAINERS
    while stack:
        budget -= 1
        if budget < 0:
            return False
        item = pop()
        if type(item) is dict:
            try:
                names = "".join(item)  # all the names at once, in C
            except TypeError:
                return False  # a name that is not a string
            if not names.isascii() and max(names) >= _ASTRAL:
                return False
            children: Any = item.values()
        else:
            children = item
        for child in children:
            kind = type(child)
            if kind is str:
                continue
            if kind is dict or kind is list:
                push(child)
            elif kind is int:
                if not -SAFE_INTEGER <= child <= SAFE_INTEGER:
                    return False
            elif not (kind is bool or child is None):
                return False
    return True


def _scalar_in_domain(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return -SAFE_INTEGER <= value <= SAFE_INTEGER
    return kind is str or kind is bool or value is None


def dumps(value: Any) -> bytes:
    """The JCS bytes of ``value``; raises what ``rfc8785.dumps`` raises for what JCS refuses
    (``rfc8785.CanonicalizationError``, a ``ValueError``)."""
    if in_fast_domain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate, or nesting deeper than orjson goes: the slow way
    return rfc8785.dumps(value)
