"""The announcement that a certificate's visits changed, for what is derived from them.

An assessment planned, started, reported, cancelled or closed moves the audit programme of
the certificate it is of. The assessment services call :func:`certificate_visits_changed`
inside their transaction; the stored visit schedule, which sits above the domain, subscribes
in its ``AppConfig.ready`` with :func:`register`. The assessments app does not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from apcert.core.derived import Subscribers

_visits_changed: Subscribers[[list[int]]] = Subscribers("certificate_visits_changed")


def register(callback: Callable[[list[int]], None], *, order: int = 0) -> None:
    """Call ``callback(certificate_ids)`` whenever the visits of those certificates move."""
    _visits_changed.register(callback, order=order)


def certificate_visits_changed(certificate_ids: Iterable[int]) -> None:
    _visits_changed.notify(list(certificate_ids))
