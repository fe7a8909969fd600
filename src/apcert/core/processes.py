"""Helpers for the pools of processes that bulk commands fork (the index build, the audit
check)."""

from __future__ import annotations

import os
import threading
import time


def end_with_parent(parent: int) -> None:
    """In a process of a pool: end when the process that started it is gone (killed, say),
    rather than wait for ever for work nobody will send. A forked process holds copies of
    its pool's pipes, so their closing never tells it; a thread watches instead."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
