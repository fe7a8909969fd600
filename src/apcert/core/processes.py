"""Helpers for the processes apcert starts: the pools that bulk commands fork (the index
build, the audit check), and the server's processes, which must not outlive the process
that started them."""

from __future__ import annotations

import ctypes
import multiprocessing
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


def end_with_starter() -> None:
    """In a process started by ``multiprocessing`` ("forkserver" or "spawn"): end when the
    process that started it is gone, killed outright included. Its parent is not that
    process under "forkserver" (it is the fork server, which lives as long as the processes
    it forked), so the parent-death signal would not do: a thread waits instead on the pipe
    the starter holds open for its life."""
    starter = multiprocessing.parent_process()
    if starter is None:
        return

    def watch() -> None:
        starter.join()
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def run_in_background(niceness: int) -> None:
    """Lower this process's CPU priority below the pages': ``nice`` by ``niceness`` (19, the
    lowest, for the work apcert does in the background). A page that wakes up takes the
    core from such a process almost at once, yet the process is never starved outright: on
    a core busy all the time it still gets a small share, so its work ends late, not never.
    (Linux's idle scheduling class was tried: no faster for the pages, and a drawing asked
    for on a saturated core then never ran.)"""
    os.nice(niceness)


def start_django_process(settings_module: str, database: str, niceness: int) -> None:
    """In a new process of a pool started clean ("forkserver" or "spawn"): ending with the
    process that started it, niced by ``niceness``, and Django set up with
    ``settings_module`` on the default database named ``database`` (the name its starter
    uses, which a test run changes). Nothing of apcert but this module is imported before
    Django is set up."""
    end_with_starter()
    run_in_background(niceness)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django
    from django.db import DEFAULT_DB_ALIAS, connections

    django.setup()
    connections.close_all()
    connections[DEFAULT_DB_ALIAS].settings_dict["NAME"] = database
