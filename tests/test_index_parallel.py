"""A large rebuild of the search index builds its entries in a pool of processes: the index
it writes is the one a build in this process makes, and the pool ends with the process that
started it (a rebuild killed outright leaves no builder behind, holding a connection). The
audit check's pool ends with its parent too."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import World
from tests.process_support import NEEDS_PROC, ended, start_script

SCRIPT = """
import json, multiprocessing, os, sys, time, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load-reference", stdout=open(os.devnull, "w"))
from apcert.demo.generate import demo_data_generate
from apcert.register import index
demo_data_generate(certificates=40, seed=5)
index.PARALLEL_FROM = 0  # a pool, whatever the size
index.CHUNK = 3
assert index._build_workers(len(index._ranges())) > 1 or os.cpu_count() == 1
written = index.index_rebuild()
print(json.dumps({"written": written, "problems": index.index_check()}), flush=True)

def stall(done):
    print(json.dumps({"builders": [p.pid for p in multiprocessing.active_children()]}), flush=True)
    time.sleep(600)

index.index_rebuild(stall)
"""


@pytest.mark.own_sqlite
@pytest.mark.skipif(NEEDS_PROC[0], reason=NEEDS_PROC[1])
def test_a_pool_built_index_is_in_step_and_the_pool_ends_with_its_parent(tmp_path: Path) -> None:
    parent = start_script(SCRIPT, tmp_path)
    try:
        assert parent.stdout is not None
        # Given a rebuild by a pool of processes: it wrote every public certificate's
        # entry, exactly as a build in one process makes it
        first = json.loads(parent.stdout.readline())
        assert first == {"written": 40, "problems": []}
        # When a second rebuild is killed outright while its pool builds
        builders = json.loads(parent.stdout.readline())["builders"]
        assert builders and not any(ended(pid) for pid in builders)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        # Then every process of the pool stops within a few seconds
        deadline = time.monotonic() + 15
        while not all(ended(pid) for pid in builders) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(ended(pid) for pid in builders), "a builder outlived the killed rebuild"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.django_db
def test_a_large_rebuild_sets_indexes_aside_and_writes_the_same_index(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from apcert.register import index

    for _ in range(3):
        world.granted()
    with connection.cursor() as cursor:
        before = connection.introspection.get_constraints(cursor, "register_searchentry")
    # Given a rebuild large enough to set the tables' indexes aside (in the caller's
    # transaction here, so built in this process)
    monkeypatch.setattr(index, "PARALLEL_FROM", 0)
    assert index.index_rebuild() == 3
    # Then the index is the one a fresh build makes, and its tables' indexes are back
    assert index.index_check() == []
    with connection.cursor() as cursor:
        assert connection.introspection.get_constraints(cursor, "register_searchentry") == before


AUDIT_SCRIPT = """
import json, multiprocessing, os, time, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load-reference", stdout=open(os.devnull, "w"))
from apcert.demo.generate import demo_data_generate
from apcert.audit.selectors import audit_chain_verify
demo_data_generate(certificates=10, seed=5)

def stall(done):
    print(json.dumps({"checkers": [p.pid for p in multiprocessing.active_children()]}), flush=True)
    time.sleep(600)

audit_chain_verify(workers=2, progress=stall)
"""


@pytest.mark.own_sqlite
@pytest.mark.skipif(NEEDS_PROC[0], reason=NEEDS_PROC[1])
def test_the_audit_check_s_pool_ends_with_its_parent(tmp_path: Path) -> None:
    # Given an audit check by a pool of processes, killed outright while it runs
    parent = start_script(AUDIT_SCRIPT, tmp_path)
    try:
        assert parent.stdout is not None
        checkers = json.loads(parent.stdout.readline())["checkers"]
        assert checkers and not any(ended(pid) for pid in checkers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        # Then every process of its pool stops within a few seconds
        deadline = time.monotonic() + 15
        while not all(ended(pid) for pid in checkers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(ended(pid) for pid in checkers), "a checker outlived the killed check"
    finally:
        if parent.poll() is None:
            parent.kill()


def _word_index() -> tuple[str, int]:
    """The GIN word index's definition, and how many pages of entries were waiting in its
    pending list (merged by the call that counts them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'register_search_doc_gin'"
        )
        (definition,) = cursor.fetchone()
        cursor.execute("SELECT gin_clean_pending_list('register_search_doc_gin'::regclass)")
        (pending,) = cursor.fetchone()
    return definition, pending


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the GIN word index is PostgreSQL's")
def test_the_word_index_keeps_no_pending_list_through_changes_and_a_large_rebuild(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apcert.register import index

    # Given certificates indexed one change at a time
    for _ in range(3):
        world.granted()
    # Then every entry went into the GIN index itself: none waits in a pending list, which
    # each search would read whole
    definition, pending = _word_index()
    assert "fastupdate=off" in definition
    assert pending == 0
    # And a large rebuild sets the word index aside and makes it again as it was
    monkeypatch.setattr(index, "PARALLEL_FROM", 0)
    assert index.index_rebuild() == 3
    assert _word_index() == (definition, 0)
    assert index.index_check() == []
