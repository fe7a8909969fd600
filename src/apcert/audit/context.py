"""Who acts through what: a change made with an API token is audited under its issuer's
name *and* the token's id, whatever service records it.

The API sets :func:`acting_through` around the call of a service; :func:`audit_record`
(:mod:`apcert.audit.services`) adds the words to the label of every event that person
records meanwhile. A context variable, so that concurrent requests in threads never mix.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_through: contextvars.ContextVar[tuple[int, str] | None] = contextvars.ContextVar(
    "apcert_audit_through", default=None
)


@contextmanager
def acting_through(user_id: int, words: str) -> Iterator[None]:
    """While inside, events recorded with the person ``user_id`` as actor say ``words``
    after their name (``"with API token 12 (apcert_6G0zPq…)"``)."""
    mark = _through.set((user_id, words))
    try:
        yield
    finally:
        _through.reset(mark)


def through_words(user_id: int | None) -> str:
    """The words to add to the label of an event recorded by ``user_id``, or ``""``."""
    current = _through.get()
    if current is None or user_id is None or current[0] != user_id:
        return ""
    return current[1]


__all__ = ["acting_through", "through_words"]
