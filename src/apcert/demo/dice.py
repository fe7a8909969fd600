"""Seeded random choices, fast enough for millions of rows.

``random.Random``'s ``randint``, ``choice`` and ``sample`` cost about a microsecond each in
Python; the demo data draws around a hundred numbers per certificate. These helpers draw
from ``random()`` alone (C code), so the same seed still gives the same data.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Dice:
    __slots__ = ("random",)

    def __init__(self, seed: int | str) -> None:
        self.random = random.Random(seed).random

    def chance(self, p: float) -> bool:
        return self.random() < p

    def below(self, n: int) -> int:
        """0 <= result < n."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """low <= result <= high."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[T], cum_weights: Sequence[float]) -> T:
        return items[bisect.bisect(cum_weights, self.random() * cum_weights[-1])]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        """k distinct items, in the order drawn."""
        pool = list(items)
        out = []
        for i in range(k):
            j = i + int(self.random() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
            out.append(pool[i])
        return out
