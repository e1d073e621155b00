"""Seeded randomness derived per post and per stream, never from a shared state.

Each (seed, stream) pair is a counter-based generator: blake2b of
(salt, stream, seed, block) gives 512 uniform bits, and draws are the digits
of that number in the mixed radix of the requested ranges (`x % n`, then
`x //= n`). When fewer than 64 bits are left, the next block is hashed, so a
digit's bias stays below n / 2**64. Post N therefore costs the same whether or
not posts before it were made, adding a draw to one stream does not shift
another, and only integer arithmetic is involved: no float, no libm, nothing
that varies by platform. Reseeding is one blake2b call (~0.5 µs), about eight
times cheaper than seeding a Mersenne Twister, which matters at ~40k posts/s.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

T = TypeVar("T")

# The salt is part of the dataset's identity: changing it changes every post.
# Its number was found by trying salts in order until seed 2852 opened like the
# seed article (python services, reducing build time, a content heavy
# programming website, the same lead and first paragraph, an unsplash image);
# every other value of that post is as drawn.
DERIVATION_SALT = b"anp-synth/2272964"
ZIPF_SCALE = 1 << 24
_BLOCK_BYTES = 64
_LOW = 1 << 64
_blake2b = hashlib.blake2b
_SMALL = 64
_RANGES = [list(range(n)) for n in range(_SMALL + 1)]


def stream_key(stream: str) -> bytes:
    """What every key of `stream` starts with (a key is this, then the seed)."""
    return b"%s:%s:" % (DERIVATION_SALT, stream.encode())


def _block(key: bytes, counter: int) -> int:
    return int.from_bytes(
        _blake2b(b"%s:%d" % (key, counter), digest_size=_BLOCK_BYTES).digest(), "little"
    )


class Draws:
    """Integer draws for one (seed, stream); `reset` reuses the instance for the next post."""

    __slots__ = ("_counter", "_key", "_x")

    def __init__(self) -> None:
        self._key = b""
        self._counter = 0
        self._x = 0

    def reset(self, seed: int, stream: str) -> Draws:
        """Start the stream `stream` of post `seed`."""
        return self.start(stream_key(stream), seed)

    def start(self, key: bytes, seed: int) -> Draws:
        """Start the stream of post `seed` whose `stream_key` is `key` (reset, with the
        stream's part of the key made once by the caller rather than for every post)."""
        key = self._key = b"%s%d" % (key, seed)
        self._counter = 0
        # _block(key, 0), written out: twice a post, a call and a formatting cheaper
        self._x = int.from_bytes(_blake2b(key + b":0", digest_size=_BLOCK_BYTES).digest(), "little")
        return self

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        x, digit = divmod(self._x, n)  # one long division, not two (`%` then `//`)
        if x < _LOW:
            self._counter += 1
            x = _block(self._key, self._counter)
        self._x = x
        return digit

    def below2(self, a: int, b: int) -> tuple[int, int]:
        """Two digits (below a, below b): the same draw as `divmod(below(a * b), a)` reversed.

        A span from 2**30 on is a multi-digit long division of the 512-bit state; two
        spans below it are two short ones, cheaper (~0.1 µs a draw), same digits, same stream.
        """
        x, first = divmod(self._x, a)
        x, second = divmod(x, b)
        if x < _LOW:
            self._counter += 1
            x = _block(self._key, self._counter)
        self._x = x
        return first, second

    def bits(self, n: int) -> int:
        """A uniform integer in [0, 2**n): the same draw as `below(1 << n)`, by a shift."""
        x = self._x
        digit = x & ((1 << n) - 1)
        x >>= n
        if x < _LOW:
            self._counter += 1
            x = _block(self._key, self._counter)
        self._x = x
        return digit

    def between(self, lo: int, hi: int) -> int:
        """A uniform integer in [lo, hi]."""
        return lo + self.below(hi - lo + 1)

    def pick_weighted(self, pool: Sequence[T], cumulative: Sequence[int]) -> T:
        """One element of `pool` with the given cumulative integer weights."""
        return pool[bisect_right(cumulative, self.below(cumulative[-1]))]

    def chance(self, per_mille: int) -> bool:
        """True with probability per_mille / 1000."""
        return self.below(1000) < per_mille

    def distinct_indices(self, n: int, k: int) -> list[int]:
        """k distinct indices of range(n) in draw order (a partial Fisher-Yates shuffle).

        Small ranges shuffle a list copy; large ones keep only the moved slots in a
        dict (O(k)); both make the same swaps, so they give the same indices.
        """
        k = min(k, n)
        if n <= _SMALL:
            # below(n - i), written out (the draws of most prebuilt variants): no call a draw
            items = _RANGES[n][:]
            x = self._x
            for i in range(k):
                x, digit = divmod(x, n - i)
                if x < _LOW:
                    self._counter += 1
                    x = _block(self._key, self._counter)
                j = i + digit
                items[i], items[j] = items[j], items[i]
            self._x = x
            return items[:k]
        below = self.below
        moved: dict[int, int] = {}
        out: list[int] = []
        for i in range(k):
            j = i + below(n - i)
            out.append(moved.get(j, j))
            moved[j] = moved.get(i, i)
        return out

    def distinct(self, pool: Sequence[T], k: int) -> list[T]:
        """k distinct elements of `pool` in draw order."""
        return [pool[i] for i in self.distinct_indices(len(pool), k)]

    def distinct_weighted(self, pool: Sequence[T], cumulative: Sequence[int], k: int) -> list[T]:
        """Up to k distinct elements drawn by weight (at most 4k draws, so bounded)."""
        chosen: list[T] = []
        total = cumulative[-1]
        below = self.below
        for _ in range(k * 4):
            item = pool[bisect_right(cumulative, below(total))]
            if item not in chosen:
                chosen.append(item)
                if len(chosen) == k:
                    break
        return chosen


def zipf_cumulative(n: int) -> list[int]:
    """Cumulative integer Zipf weights ⌊2^24/(rank+1)⌋ for n ranks (rank 0 most frequent)."""
    return list(accumulate(ZIPF_SCALE // (rank + 1) for rank in range(n)))
