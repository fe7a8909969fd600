"""Helpers for the processes apcert starts: the pools that bulk commands fork (the index
build, the audit check), and the server's processes, which must not outlive the process
that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

#: The environment variable in which ``apcert serve`` names granian's main process to the
#: worker processes granian starts (:mod:`apcert.served`).
SERVER_PID_ENV = "APCERT_SERVER_PID"
#: Linux prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """In this process, on Linux: have the kernel send ``signum`` when its parent (the
    process ``parent``) dies, even killed outright; at once if it has died already. The C
    library is loaded here: call this in a process that may load one (not between a fork
    and an exec)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signum)


def end_with_parent(parent: int) -> None:
    """In a process of a pool: end when the process that started it is gone (killed, say),
    rather than wait for ever for work nobody will send. A forked process holds copies of
    its pool's pipes, so their closing never tells it; a thread watches instead."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
