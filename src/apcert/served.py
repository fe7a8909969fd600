"""The WSGI application as ``apcert serve`` hands it to granian, which calls
:func:`application` once in each of its worker processes.

A granian worker is a child of granian's main process. Were that process killed outright
(SIGKILL: no chance to stop its workers), the workers would live on, orphaned, still holding
the port and the database. So each worker first asks the kernel (Linux's parent-death signal)
to kill it when the main process that started it dies: ``apcert serve`` names that process in
``APCERT_SERVER_PID``. Without that variable (granian started by other means), nothing is
asked.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from apcert.core.processes import SERVER_PID_ENV, die_with_parent


def application() -> Any:
    """granian's factory: the WSGI application, in a worker that dies with its server. Its
    main process gone, nothing would ever stop the worker gracefully: the signal is
    SIGKILL."""
    raw = os.environ.get(SERVER_PID_ENV, "")
    if raw.isdigit():
        die_with_parent(int(raw), signal.SIGKILL)
    from apcert.wsgi import application as wsgi_application

    return wsgi_application
