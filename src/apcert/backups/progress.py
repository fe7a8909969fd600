"""A progress bar for copying a database in or out, in the copy's own units."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from apcert.backups.engines import Progress


@contextmanager
def copy_progress(out: TextIO | None, *, desc: str, unit: str) -> Iterator[Progress]:
    """A ``progress(done, total)`` drawing a bar on ``out`` (nothing when it is None)."""
    with tqdm(desc=desc, unit=unit, file=out, disable=out is None, mininterval=0.5) as bar:

        def advance(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield advance
