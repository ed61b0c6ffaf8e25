"""L1: the in-process memory tier, bounded by entries and by bytes.

Rules this module keeps:

1. A hit costs one ``dict`` lookup, one clock comparison and one attribute store (the "visited" bit); nothing is
   moved or copied on a hit.
2. Eviction is SIEVE-like second chance (Zhang et al., NSDI 2024): entries are kept in insertion order; when the
   store is over a bound, the oldest entry goes unless it was read since it was last looked at, in which case it
   gets a second chance at the young end (an entry past all its windows gets none). This keeps LRU-like hit
   ratios without LRU's per-hit bookkeeping.
3. Times are ``time.monotonic()`` seconds. An entry carries three deadlines: fresh, servable while revalidating
   (RFC 5861 ``stale-while-revalidate``), servable if the refresh fails (RFC 5861 ``stale-if-error``); it is
   dropped once the last one has passed.
4. Values are stored as given: every reader gets the same object, so readers must not mutate it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from time import monotonic
from typing import Any

#: Bytes counted for an entry on top of its encoded value (key, slot object, dict and index overhead).
ENTRY_OVERHEAD = 160


class Slot:
    """One L1 entry (times are ``time.monotonic()`` seconds)."""

    __slots__ = ("error_until", "fresh_until", "key", "retain_until", "size", "stale_until", "tags", "value", "visited")

    def __init__(
        self,
        key: str,
        value: Any,
        fresh_until: float,
        stale_until: float,
        error_until: float,
        size: int,
        tags: tuple[str, ...],
    ) -> None:
        self.key = key
        self.value = value
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        self.error_until = error_until
        self.retain_until = max(fresh_until, stale_until, error_until)
        self.size = size
        self.tags = tags
        self.visited = False


class MemoryCacheStore:
    """The L1 store: an ordered dict of :class:`Slot`, bounded by ``max_entries`` and ``max_bytes``.

    Args:
        max_entries: most entries kept (0 turns L1 off: nothing is stored).
        max_bytes: most bytes kept, counting each value's encoded size plus ``ENTRY_OVERHEAD``.
        max_ttl: when set, no entry stays in L1 longer than this many seconds, whatever its own TTL (a bound on
            how long a missed cross-process invalidation can last).

    Raises:
        ValueError: a negative bound.
    """

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024, max_ttl: float | None = None):
        if max_entries < 0 or max_bytes < 0 or (max_ttl is not None and max_ttl < 0):
            raise ValueError("MemoryCacheStore bounds must be >= 0")
        self.max_entries = int(max_entries)
        self.max_bytes = int(max_bytes)
        self.max_ttl = max_ttl
        self.data: OrderedDict[str, Slot] = OrderedDict()
        self.nbytes = 0
        self._tags: dict[str, set[str]] = {}
        self.evictions = 0

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    @property
    def enabled(self) -> bool:
        """Whether this store keeps anything (``max_entries > 0`` and ``max_bytes > 0``)."""
        return self.max_entries > 0 and self.max_bytes > 0

    def peek(self, key: str) -> Slot | None:
        """The entry for ``key`` even if stale (None once it is past every window, and then it is dropped)."""
        slot = self.data.get(key)
        if slot is not None and slot.retain_until <= monotonic():
            self._remove(slot)
            return None
        return slot

    def put(
        self,
        key: str,
        value: Any,
        *,
        fresh_for: float,
        stale_for: float = 0.0,
        error_for: float = 0.0,
        size: int = 0,
        tags: Iterable[str] = (),
    ) -> Slot | None:
        """Store ``value``: fresh for ``fresh_for`` s, then servable stale for ``stale_for`` s while a refresh runs,
        and for ``error_for`` s if refreshes fail (both counted from the end of freshness).

        Returns the new slot, or None when L1 is off or the entry is larger than the whole store.
        """
        if not self.enabled:
            return None
        size += ENTRY_OVERHEAD + len(key)
        old = self.data.get(key)
        if old is not None:
            self._remove(old)
        if size > self.max_bytes:
            return None
        now = monotonic()
        fresh_until = now + fresh_for
        stale_until = fresh_until + stale_for if stale_for > 0 else fresh_until
        error_until = fresh_until + error_for if error_for > 0 else fresh_until
        if self.max_ttl is not None:
            cap = now + self.max_ttl
            fresh_until, stale_until, error_until = min(fresh_until, cap), min(stale_until, cap), min(error_until, cap)
        slot = Slot(key, value, fresh_until, stale_until, error_until, size, tuple(tags))
        self.data[key] = slot
        self.nbytes += size
        for tag in slot.tags:
            self._tags.setdefault(tag, set()).add(key)
        if len(self.data) > self.max_entries or self.nbytes > self.max_bytes:
            self._evict(now)
        return slot

    def delete(self, key: str) -> bool:
        """Drop ``key``; whether it was there."""
        slot = self.data.get(key)
        if slot is None:
            return False
        self._remove(slot)
        return True

    def invalidate_prefix(self, prefix: str) -> int:
        """Drop every key starting with ``prefix`` (a scan of all keys); how many were dropped."""
        doomed = [slot for key, slot in self.data.items() if key.startswith(prefix)]
        for slot in doomed:
            self._remove(slot)
        return len(doomed)

    def invalidate_tags(self, tags: Iterable[str]) -> int:
        """Drop every key stored with one of ``tags``; how many were dropped."""
        removed = 0
        for tag in tags:
            for key in list(self._tags.get(tag, ())):
                removed += self.delete(key)
            self._tags.pop(tag, None)
        return removed

    def clear(self) -> None:
        """Drop everything."""
        self.data.clear()
        self._tags.clear()
        self.nbytes = 0

    def _remove(self, slot: Slot) -> None:
        if self.data.get(slot.key) is slot:
            del self.data[slot.key]
            self.nbytes -= slot.size
        for tag in slot.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(slot.key)
                if not keys:
                    del self._tags[tag]

    def _evict(self, now: float) -> None:
        data = self.data
        # Second chance is bounded: after one full pass every visited bit is clear, so the loop ends.
        budget = 2 * len(data) + 1
        while (len(data) > self.max_entries or self.nbytes > self.max_bytes) and data and budget:
            budget -= 1
            key, slot = next(iter(data.items()))
            if slot.visited and slot.retain_until > now:
                slot.visited = False
                data.move_to_end(key)
                continue
            self._remove(slot)
            self.evictions += 1


__all__ = ["ENTRY_OVERHEAD", "MemoryCacheStore", "Slot"]
