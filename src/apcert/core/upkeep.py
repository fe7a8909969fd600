"""Upkeep that the worker runs at each of its checks: work that keeps derived structures
fast as the data grows, never work that a read depends on for its answer.

An app registers its upkeep in its ``AppConfig.ready`` (so that the worker, low in the
layers, calls code of apps above it without importing them); :func:`run_upkeep` runs each in
turn, and one that fails is reported and retried at the next check without stopping the
others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_upkeep: dict[str, Callable[[], None]] = {}


def register_upkeep(name: str, run: Callable[[], None]) -> None:
    """Have the worker call ``run`` at each check (``name`` says what it is in its log)."""
    _upkeep[name] = run


def run_upkeep() -> list[tuple[str, Exception]]:
    """Run every registered upkeep; return those that failed, with their error."""
    failed: list[tuple[str, Exception]] = []
    for name, run in list(_upkeep.items()):
        try:
            run()
        except Exception as exc:  # reported; the next check tries again
            logger.warning("upkeep %s failed: %s", name, exc)
            failed.append((name, exc))
    return failed


__all__ = ["register_upkeep", "run_upkeep"]
