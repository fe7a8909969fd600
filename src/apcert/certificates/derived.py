"""What is derived from a certificate, kept in step through one registry.

The certificate transition service (and every other certificate service that changes what a
certificate shows) calls :func:`certificate_changed` inside its transaction. The apps above
the domain that derive data from a certificate subscribe in their ``AppConfig.ready`` with
:func:`register`; the certificates app never imports them.

The order keys below fix the order they run in, because a later one reads what an earlier
one wrote: the signed credential of the latest issue names the certificate's place in the
status lists, so the status lists are set before it is signed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from apcert.core.derived import Subscribers

if TYPE_CHECKING:
    from apcert.certificates.models import Certificate

#: The register's search index entry (first: the public answer).
ORDER_SEARCH_INDEX = 10
#: The stored schedule of the certificate's open visits (the back office's dashboards).
ORDER_VISIT_SCHEDULE = 20
#: The suspension and revocation bits of the CB's status lists.
ORDER_STATUS_LISTS = 30
#: The signed credential of the latest issue (after the status lists it names).
ORDER_CREDENTIAL = 40

_changed: Subscribers[[Certificate]] = Subscribers("certificate_changed")


def register(callback: Callable[[Certificate], None], *, order: int) -> None:
    """Call ``callback(certificate)`` after every change of a certificate, at ``order``."""
    _changed.register(callback, order=order)


def subscribers() -> list[Callable[[Certificate], None]]:
    return _changed.callbacks()


def certificate_changed(certificate: Certificate) -> None:
    """Bring everything derived from ``certificate`` into step with it. Runs in the
    caller's transaction; ``certificate`` is the row the caller has just saved."""
    _changed.notify(certificate)
