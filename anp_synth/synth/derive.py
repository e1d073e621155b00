"""Seeded randomness derived per post and per stream, never from a shared state.

Each (seed, stream) pair gets its own `random.Random` state from a blake2b
digest, so post N costs the same whether or not posts before it were made,
and adding a field to one stream does not shift the draws of another.
Only IEEE-exact operations (multiply, add, compare, int()) turn draws into
choices, so the results do not depend on the platform's libm.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

T = TypeVar("T")

DERIVATION_VERSION = b"anp-synth/1"


def stream_key(seed: int, stream: str) -> int:
    """The 128-bit key of one stream of one post."""
    digest = hashlib.blake2b(
        b"%s:%s:%d" % (DERIVATION_VERSION, stream.encode(), seed), digest_size=16
    ).digest()
    return int.from_bytes(digest, "big")


class Draws(random.Random):
    """A `random.Random` with picks built only from `random()` and integer math."""

    def reset(self, seed: int, stream: str) -> Draws:
        """Reseed in place for (seed, stream); cheaper than building a new instance."""
        self.seed(stream_key(seed, stream))
        return self

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.random() * n)

    def between(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi]."""
        return lo + int(self.random() * (hi - lo + 1))

    def pick(self, pool: Sequence[T]) -> T:
        """One uniform element of `pool`."""
        return pool[int(self.random() * len(pool))]

    def pick_weighted(self, pool: Sequence[T], cumulative: Sequence[float]) -> T:
        """One element of `pool` with the given cumulative weights."""
        return pool[bisect_right(cumulative, self.random() * cumulative[-1])]

    def distinct(self, pool: Sequence[T], k: int) -> list[T]:
        """k distinct elements in draw order (a partial Fisher-Yates shuffle)."""
        items = list(pool)
        n = len(items)
        k = min(k, n)
        for i in range(k):
            j = i + int(self.random() * (n - i))
            items[i], items[j] = items[j], items[i]
        return items[:k]

    def distinct_weighted(self, pool: Sequence[T], cumulative: Sequence[float], k: int) -> list[T]:
        """Up to k distinct elements drawn by weight (bounded number of draws)."""
        chosen: list[T] = []
        for _ in range(k * 4):
            item = self.pick_weighted(pool, cumulative)
            if item not in chosen:
                chosen.append(item)
                if len(chosen) == k:
                    break
        return chosen

    def chance(self, p: float) -> bool:
        """True with probability p."""
        return self.random() < p


def zipf_cumulative(n: int) -> list[float]:
    """Cumulative Zipf weights 1/(rank+1) for n ranks (rank 0 is the most frequent).

    Exponent 1 on purpose: a division is correctly rounded everywhere, `pow` is not.
    """
    return list(accumulate(1.0 / (rank + 1) for rank in range(n)))
