"""A drawing that never ends, for the tests of the drawing processes: run by one of them, it
says which process it runs in (in the file ``marker``), then waits."""

from __future__ import annotations

import os
import time
from pathlib import Path


def stall(marker: str) -> bytes:
    Path(marker).write_text(str(os.getpid()))
    time.sleep(600)
    return b""
