"""``RangeSet``: a set of integers kept as ranges, the broadcast nodes' one data
structure.

Broadcast values are the integers 0, 1, 2, ..., so the set of values a node holds, or
knows a peer holds, is a handful of ``[lo, hi]`` ranges: compact in memory and on the wire.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import Any


class RangeSet:
    """A set of integers as sorted, disjoint, non-adjacent inclusive ranges ``[lo, hi]``.

    ``add`` and ``__contains__`` are O(log r) for r ranges; ``difference`` and ``update`` walk
    both range lists. Broadcast values are consecutive, so r stays tiny while the count grows.
    """

    __slots__ = ("_count", "_ends", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0
        for lo, hi in ranges:
            self.add_range(lo, hi)

    @classmethod
    def of(cls, values: Iterable[int]) -> RangeSet:
        """The set of ``values``: one ``add_range`` per run of consecutive values, not one
        ``add`` per value (a full-state gossip message carries thousands of them)."""
        out = cls()
        ordered = sorted(set(values))
        start = 0
        for k in range(1, len(ordered) + 1):
            if k == len(ordered) or ordered[k] != ordered[k - 1] + 1:
                out.add_range(ordered[start], ordered[k - 1])
                start = k
        return out

    @classmethod
    def from_json(cls, data: Any, *, max_ranges: int = 1 << 20) -> RangeSet:
        """Parse ``[[lo, hi], ...]``; raise ``ValueError`` on anything else."""
        if not isinstance(data, list):
            raise ValueError(f"ranges must be a list, not {type(data).__name__}")
        if len(data) > max_ranges:
            raise ValueError(f"too many ranges: {len(data)} > {max_ranges}")
        out = cls()
        for item in data:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and all(is_int(x) for x in item)
                and item[0] <= item[1]
            ):
                raise ValueError(f"a range must be [lo, hi] with integers lo <= hi, not {item!r}")
            out.add_range(item[0], item[1])
        return out

    def to_json(self) -> list[list[int]]:
        return [[lo, hi] for lo, hi in zip(self._starts, self._ends, strict=True)]

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RangeSet)
            and self._starts == other._starts
            and self._ends == other._ends
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"RangeSet({self.to_json()})"

    @property
    def range_count(self) -> int:
        return len(self._starts)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            return False
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and self._ends[i] >= value

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self._starts, self._ends, strict=True):
            yield from range(lo, hi + 1)

    def copy(self) -> RangeSet:
        out = RangeSet()
        out._starts, out._ends, out._count = list(self._starts), list(self._ends), self._count
        return out

    def add(self, value: int) -> bool:
        """Add one value; True if it was new."""
        return self.add_range(value, value) > 0

    def add_range(self, lo: int, hi: int) -> int:
        """Add ``lo..hi`` inclusive; return how many values were new."""
        if lo > hi:
            raise ValueError(f"empty range [{lo}, {hi}]")
        starts, ends = self._starts, self._ends
        i = bisect.bisect_left(ends, lo - 1)  # first range that touches or follows lo
        j = bisect.bisect_right(starts, hi + 1)  # ranges before j start at or before hi + 1
        if i == j:
            starts.insert(i, lo)
            ends.insert(i, hi)
            self._count += hi - lo + 1
            return hi - lo + 1
        new_lo, new_hi = min(lo, starts[i]), max(hi, ends[j - 1])
        covered = sum(ends[k] - starts[k] + 1 for k in range(i, j))
        starts[i:j] = [new_lo]
        ends[i:j] = [new_hi]
        added = (new_hi - new_lo + 1) - covered
        self._count += added
        return added

    def update(self, other: RangeSet) -> int:
        """Union in place; return how many values were new."""
        return sum(self.add_range(lo, hi) for lo, hi in other.ranges())

    def difference(self, other: RangeSet) -> RangeSet:
        """Values in self and not in ``other``."""
        out = RangeSet()
        o_starts, o_ends = other._starts, other._ends
        j = 0
        for lo, hi in zip(self._starts, self._ends, strict=True):
            while j < len(o_ends) and o_ends[j] < lo:
                j += 1
            cur, k = lo, j
            while k < len(o_starts) and o_starts[k] <= hi and cur <= hi:
                if o_starts[k] > cur:
                    out._append(cur, o_starts[k] - 1)
                cur = max(cur, o_ends[k] + 1)
                k += 1
            if cur <= hi:
                out._append(cur, hi)
        return out

    def difference_update(self, other: RangeSet) -> None:
        result = self.difference(other)
        self._starts, self._ends, self._count = result._starts, result._ends, result._count

    def truncated(self, max_ranges: int) -> RangeSet:
        """The first ``max_ranges`` ranges: a subset, so still a true "at least" claim."""
        if len(self._starts) <= max_ranges:
            return self.copy()
        out = RangeSet()
        for lo, hi in zip(self._starts[:max_ranges], self._ends[:max_ranges], strict=True):
            out._append(lo, hi)
        return out

    def _append(self, lo: int, hi: int) -> None:
        """Append a range known to lie after (and not touch) the last one."""
        self._starts.append(lo)
        self._ends.append(hi)
        self._count += hi - lo + 1


def is_int(x: object) -> bool:
    """An integer that is not a bool (how JSON numbers that must be integers are checked)."""
    return isinstance(x, int) and not isinstance(x, bool)
