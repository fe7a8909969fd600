"""Transition tables as plain data, and the one function that applies them.

A table maps ``(state, action)`` to the state after the action. Anything not in the table
is refused with ``<entity>.transition_not_allowed``. No ORM here: services look up the next
state with :func:`next_state` and save it themselves, inside their transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from apcert.core.errors import TransitionNotAllowed


@dataclass(frozen=True)
class TransitionTable:
    entity: str
    states: tuple[str, ...]
    actions: tuple[str, ...]
    transitions: Mapping[tuple[str, str], str]

    def __post_init__(self) -> None:
        for (state, action), target in self.transitions.items():
            if state not in self.states or target not in self.states:
                raise ValueError(f"{self.entity}: unknown state in {state!r} -> {target!r}")
            if action not in self.actions:
                raise ValueError(f"{self.entity}: unknown action {action!r}")

    @property
    def refusal_code(self) -> str:
        """The code of this table's refusals, declared with the entity's app's error codes."""
        return f"{self.entity}.transition_not_allowed"

    def allowed(self, state: str, action: str) -> bool:
        return (state, action) in self.transitions

    def actions_from(self, state: str) -> list[str]:
        return [a for a in self.actions if (state, a) in self.transitions]

    def next_state(self, state: str, action: str) -> str:
        try:
            return self.transitions[(state, action)]
        except KeyError:
            allowed = ", ".join(self.actions_from(state)) or "none"
            raise TransitionNotAllowed(
                f"{_article(self.entity)} {self.entity.replace('_', ' ')} that is "
                f"{state.replace('_', ' ')} "
                f"cannot be {_past(action)}. Actions allowed now: {allowed}.",
                code=self.refusal_code,
                params={"state": state, "action": action},
            ) from None

    def pairs(self) -> Iterable[tuple[str, str]]:
        for state in self.states:
            for action in self.actions:
                yield state, action


_PAST = {
    "submit": "submitted",
    "accept": "accepted",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "start": "started",
    "issue_report": "given an issued report",
    "correct_report": "given a corrected report",
    "reschedule": "rescheduled",
    "close": "closed",
    "cancel": "cancelled",
    "answer": "answered",
    "accept_plan": "given an accepted plan",
    "verify": "verified",
    "grant": "granted",
    "suspend": "suspended",
    "restore": "restored",
    "expire": "expired",
    "reissue": "re-issued",
    "renew": "renewed",
    "approve": "approved",
    "return": "returned",
    "skip": "skipped",
}


def _article(noun: str) -> str:
    return "An" if noun[:1].lower() in "aeiou" else "A"


def _past(action: str) -> str:
    return _PAST.get(action, action.replace("_", " ") + "ed")
