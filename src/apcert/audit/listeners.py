"""Who hears about an event the moment it is recorded.

:func:`apcert.audit.services.audit_record` hands every event it has just appended to each
listener, inside the service's transaction: what a listener writes commits or rolls back with
the change itself. Apps above the audit trail (the in-app messages of the notifications, for
one) add themselves in their ``AppConfig.ready`` with :func:`register`; the audit trail, and
the services that call it, never import them. A listener looks at ``event.action`` and
returns at once for the actions it does not know: every regulated change passes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from apcert.core.derived import Subscribers

if TYPE_CHECKING:
    from apcert.audit.models import AuditEvent

#: The in-app messages (and their e-mails) that tell people that work has arrived.
ORDER_MESSAGES = 10
#: The webhook deliveries written to the outbox for the subscriptions an event matches.
ORDER_WEBHOOKS = 20

_recorded: Subscribers[[AuditEvent]] = Subscribers("audit_event_recorded")


def register(callback: Callable[[AuditEvent], None], *, order: int) -> None:
    """Call ``callback(event)`` after every event appended to the trail, at ``order``."""
    _recorded.register(callback, order=order)


def unregister(callback: Callable[[AuditEvent], None]) -> None:
    _recorded.unregister(callback)


def listeners() -> list[Callable[[AuditEvent], None]]:
    return _recorded.callbacks()


def event_recorded(event: AuditEvent) -> None:
    """Tell every listener about ``event``, in the caller's transaction."""
    _recorded.notify(event)
