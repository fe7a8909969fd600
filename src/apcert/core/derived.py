"""Registries through which a lower layer tells a higher one that something changed.

A domain app owns a :class:`Subscribers` list for each kind of change it announces; the apps
that keep data derived from it (the register's search index, the visit schedule, the status
lists, the signed credentials) add themselves in their ``AppConfig.ready``. The owner calls
every subscriber in its own transaction, so a change and what is derived from it commit or
roll back together; it knows that the change happened, not who listens.

Subscribers run in the order of their ``order`` key (ties in the order they were added), never
in the order the apps happen to be imported: one subscriber may read what an earlier one wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, ParamSpec

P = ParamSpec("P")


@dataclass
class Subscribers(Generic[P]):
    """The callbacks one kind of change is announced to, each with its order key."""

    name: str
    _entries: list[tuple[int, int, Callable[P, None]]] = field(default_factory=list)

    def register(self, callback: Callable[P, None], *, order: int) -> Callable[P, None]:
        """Add ``callback`` to run at ``order``; adding the same callback again is a no-op
        (``ready()`` may run more than once in tests)."""
        if all(entry[2] is not callback for entry in self._entries):
            self._entries.append((order, len(self._entries), callback))
            self._entries.sort(key=lambda entry: (entry[0], entry[1]))
        return callback

    def unregister(self, callback: Callable[P, None]) -> None:
        self._entries = [entry for entry in self._entries if entry[2] is not callback]

    def callbacks(self) -> list[Callable[P, None]]:
        return [entry[2] for entry in self._entries]

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for callback in self.callbacks():
            callback(*args, **kwargs)
