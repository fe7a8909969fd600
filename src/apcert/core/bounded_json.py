"""JSON from outside (an uploaded or pasted credential, one a PDF embeds, a file given to
``apcert verify``, a fetched status list), read with its nesting bounded.

Python's parser and every walk over the parsed value (the canonical form a signature
covers, the checks, the pages) recurse once a level: a document nested a few thousand levels
deep would end in a RecursionError, and one nested a few hundred deep still makes every later
step costly. A credential apcert signs is nested about six levels; :data:`MAX_DEPTH` leaves
ample room for any honest document and refuses the rest before anything else reads it.
"""

from __future__ import annotations

import json
from typing import Any

#: The deepest nesting of arrays and objects a document may have (``{}`` is 1 deep).
MAX_DEPTH = 64


class TooDeep(ValueError):
    """The JSON is nested more than :data:`MAX_DEPTH` levels deep."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"it is nested more than {limit} levels deep")
        self.limit = limit


def depth_exceeds(value: object, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` (as parsed from JSON) nests arrays and objects more than ``limit``
    deep, found without recursion."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Any
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``data`` parsed as JSON. Raises ValueError: :class:`TooDeep` for a document nested
    more than ``max_depth`` levels, ``json.JSONDecodeError`` for one that is not JSON, and
    UnicodeDecodeError (a ValueError too) for bytes that are not text."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    try:
        value = json.loads(text)
    except RecursionError:
        # The parser itself ran out of stack: far deeper than the limit.
        raise TooDeep(max_depth) from None
    if depth_exceeds(value, max_depth):
        raise TooDeep(max_depth)
    return value
