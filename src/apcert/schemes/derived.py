"""The announcement that a scheme's rules changed, for what is derived from them.

Loading reference data may change a scheme's rules (for example the surveillance interval);
what is computed from them above the domain (the stored visit schedule) subscribes in its
``AppConfig.ready`` with :func:`register`. The schemes app does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from apcert.core.derived import Subscribers

RulesCallback = Callable[[int, Mapping[str, Any], Mapping[str, Any]], None]

_rules_changed: Subscribers[[int, Mapping[str, Any], Mapping[str, Any]]] = Subscribers(
    "scheme_rules_changed"
)


def register(callback: RulesCallback, *, order: int = 0) -> None:
    """Call ``callback(scheme_id, before, after)`` when a scheme's stored rules change."""
    _rules_changed.register(callback, order=order)


def scheme_rules_changed(
    *, scheme_id: int, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    _rules_changed.notify(scheme_id, before, after)
