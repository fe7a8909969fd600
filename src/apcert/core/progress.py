"""A progress bar for the long commands that rebuild derived data (reindex, visits-rebuild)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


def run_with_progress(
    progress: TextIO | None, *, total: int, desc: str, run: Callable[..., int]
) -> int:
    """``run(progress=...)`` with a progress bar of ``total`` certificates on ``progress``
    (none when ``progress`` is None); returns what ``run`` returns."""
    with tqdm(
        total=total, desc=desc, unit="cert", file=progress, disable=progress is None,
        mininterval=0.5,
    ) as bar:  # fmt: skip

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        return run(progress=advance)
