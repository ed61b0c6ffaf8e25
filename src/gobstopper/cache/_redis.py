"""L2: Redis through redis-py's asyncio client (``pip install gobstopper[redis]``).

Layout under the key prefix ``P`` (``gobstopper:cache:`` by default):

* ``P v:<key>``: a record (see below) with a Redis expiry at the end of its last stale window;
* ``P l:<key>``: the singleflight lock of ``<key>``, a random token with an expiry (``SET NX PX``), released by
  compare-and-delete in Lua, so a process never deletes a lock that expired and was taken by another;
* ``P t:<tag>``: a set of the value keys stored with ``<tag>``;
* ``P versions``: a hash of namespace -> bump count (:meth:`Cache.bump_version`);
* ``P events``: the pub/sub channel on which processes tell each other to drop L1 entries.

A record is ``<format><fresh><stale><error><payload>``: one byte (``m`` msgpack, ``j`` JSON), three 13-digit
wall-clock deadlines in milliseconds (fresh until, servable while revalidating until, servable on error until),
then the value encoded by msgspec. The fixed-width header lets the Lua script below decide freshness on the
server, in the same round trip that takes the lock.

Every method raises redis-py's errors (or ``OSError``); :class:`~gobstopper.cache.Cache` turns them into "L2 is
down" and keeps serving from L1 and the factory.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Record header: format byte + three 13-digit millisecond deadlines.
HEADER_SIZE = 40

# GET the record; if it is fresh (header deadline > now) return it; otherwise try to take the lock.
# Returns {record or false, 1 if the lock was taken else 0}: one round trip per miss, and the read and the lock
# are atomic, so a leader that stored the value before releasing its lock is always seen.
_FETCH_OR_LOCK = """
local v = redis.call('GET', KEYS[1])
local fresh = v and tonumber(string.sub(v, 2, 14))
if fresh and fresh > tonumber(ARGV[3]) then return {v, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {v, 1} end
return {v, 0}
"""

# Compare-and-delete: release the lock only if it still holds our token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# SET the record, add its key to each tag set (whose expiry is pushed out to the record's), maybe PUBLISH.
_SET = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local px = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
"""

# Delete every key of each tag set, then the set. Returns {number deleted, the set members}: the caller tells
# other processes which keys to drop from memory (theirs may have been read from Redis, without their tags).
_INVALIDATE_TAGS = """
local n = 0
local all = {}
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    n = n + redis.call('UNLINK', unpack(members, j, math.min(j + 499, #members)))
  end
  for j = 1, #members do all[#all + 1] = members[j] end
  redis.call('UNLINK', KEYS[i])
end
return {n, all}
"""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def glob_escape(text: str) -> str:
    """``text`` with Redis glob characters (``* ? [ ] \\``) escaped, for ``SCAN MATCH``."""
    return text.translate(_GLOB_SPECIAL)


class RedisCacheStore:
    """The L2 store on Redis.

    Args:
        client: a ``redis.asyncio.Redis`` client to share (with sessions, rate limits...); it must have
            ``decode_responses=False``. Its timeouts and retries are yours: give it a ``socket_timeout``.
        url: or a Redis URL (``redis://host:6379/0``, ``rediss://``, ``unix://``); the store then makes its own
            client with ``timeout`` as connect/read timeout and no retries (a down Redis is noticed at once and
            the cache falls back to memory), and closes it in :meth:`close`.
        prefix: prefix of every key and of the pub/sub channel (several apps can share one Redis).
        timeout: seconds, for a client made from ``url``.

    Raises:
        ValueError: neither or both of ``client``/``url``, or a client decoding responses to ``str``.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        url: str | None = None,
        prefix: str = "gobstopper:cache:",
        timeout: float = 0.5,
    ) -> None:
        if (client is None) == (url is None):
            raise ValueError("RedisCacheStore needs a redis.asyncio client or a url (one of them)")
        if client is not None:
            kwargs: dict[str, Any] = getattr(client, "get_connection_kwargs", dict)()
            if kwargs.get("decode_responses"):
                raise ValueError("the cache's Redis client must have decode_responses=False (it stores bytes)")
        self._client = client
        self._owned = client is None
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.channel = prefix + "events"
        self.versions_key = prefix + "versions"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, Any] = {}

    # -- the client -------------------------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``redis.asyncio.Redis`` client (made on first use in the running loop when built from a URL)."""
        if not self._owned:
            return self._client
        loop = asyncio.get_running_loop()
        if self._client is None or loop is not self._loop:
            # A client made from a URL is bound to the loop it first ran in; a new loop (a test client per
            # request, a second asyncio.run) gets a new client. The old one's sockets die with their loop.
            self._client = self._make_client()
            self._scripts.clear()
            self._loop = loop
        return self._client

    def _make_client(self) -> Any:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        assert self.url is not None
        return Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
        )

    def _script(self, name: str, source: str) -> Any:
        client = self.client
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = client.register_script(source)
        return script

    def value_key(self, key: str) -> str:
        """The Redis key holding ``key``'s record."""
        return self.prefix + "v:" + key

    def lock_key(self, key: str) -> str:
        """The Redis key of ``key``'s singleflight lock."""
        return self.prefix + "l:" + key

    def tag_key(self, tag: str) -> str:
        """The Redis set of the keys stored with ``tag``."""
        return self.prefix + "t:" + tag

    # -- records ----------------------------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The record of ``key`` (stale or not), or None."""
        record: bytes | None = await self.client.get(self.value_key(key))
        return record

    async def fetch_or_lock(self, key: str, token: str, lock_ms: int, now_ms: int) -> tuple[bytes | None, bool]:
        """One round trip: the record if it is fresh at ``now_ms``; else the (stale or missing) record and whether
        the lock was taken with ``token`` for ``lock_ms`` milliseconds."""
        script = self._script("fetch_or_lock", _FETCH_OR_LOCK)
        record, locked = await script(keys=[self.value_key(key), self.lock_key(key)], args=[token, lock_ms, now_ms])
        return record, bool(locked)

    async def lock(self, key: str, token: str, lock_ms: int) -> bool:
        """Take ``key``'s lock with ``token`` for ``lock_ms`` milliseconds (``SET NX PX``); whether it was free."""
        return bool(await self.client.set(self.lock_key(key), token, nx=True, px=lock_ms))

    async def release(self, key: str, token: str) -> bool:
        """Release ``key``'s lock if it still holds ``token`` (compare-and-delete); whether it did."""
        script = self._script("release", _RELEASE)
        return bool(await script(keys=[self.lock_key(key)], args=[token]))

    async def set(self, key: str, record: bytes, px: int, tags: tuple[str, ...] = (), event: bytes = b"") -> None:
        """Store ``record`` for ``px`` milliseconds, add it to ``tags``, publish ``event`` if given."""
        if not tags and not event:
            await self.client.set(self.value_key(key), record, px=px)
            return
        script = self._script("set", _SET)
        keys = [self.value_key(key), *(self.tag_key(tag) for tag in tags)]
        await script(keys=keys, args=[record, px, self.channel if event else "", event])

    async def delete(self, key: str, event: bytes = b"") -> int:
        """Delete ``key``'s record and publish ``event``; how many records were deleted (0 or 1)."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.unlink(self.value_key(key))
            if event:
                pipe.publish(self.channel, event)
            results = await pipe.execute()
        return int(results[0])

    async def invalidate_prefix(self, prefix: str, event: bytes = b"") -> int:
        """Delete every record whose key starts with ``prefix`` (``SCAN MATCH``, batches of ``UNLINK``)."""
        client = self.client
        removed = 0
        batch: list[bytes] = []
        async for name in client.scan_iter(match=glob_escape(self.value_key(prefix)) + "*", count=1000):
            batch.append(name)
            if len(batch) >= 500:
                removed += await client.unlink(*batch)
                batch.clear()
        if batch:
            removed += await client.unlink(*batch)
        if event:
            await client.publish(self.channel, event)
        return removed

    async def invalidate_tags(self, tags: tuple[str, ...]) -> tuple[int, list[str]]:
        """Delete every record stored with one of ``tags``; (how many, the cache keys that were tagged)."""
        script = self._script("invalidate_tags", _INVALIDATE_TAGS)
        removed, members = await script(keys=[self.tag_key(tag) for tag in tags])
        start = len(self.value_key(""))
        return int(removed), [m.decode()[start:] if isinstance(m, bytes) else str(m)[start:] for m in members]

    async def clear(self, event: bytes = b"") -> int:
        """Delete every key under the prefix (records, tag sets, versions, locks); how many."""
        client = self.client
        removed = 0
        batch: list[bytes] = []
        async for name in client.scan_iter(match=glob_escape(self.prefix) + "*", count=1000):
            batch.append(name)
            if len(batch) >= 500:
                removed += await client.unlink(*batch)
                batch.clear()
        if batch:
            removed += await client.unlink(*batch)
        if event:
            await client.publish(self.channel, event)
        return removed

    # -- namespace versions -----------------------------------------------------------------------------------

    async def bump_version(self, namespace: str) -> int:
        """Add one to ``namespace``'s bump count and return it."""
        return int(await self.client.hincrby(self.versions_key, namespace, 1))

    async def publish(self, event: bytes) -> None:
        """Send ``event`` to every process listening on :attr:`channel`."""
        await self.client.publish(self.channel, event)

    async def versions(self) -> dict[str, int]:
        """Every namespace's bump count."""
        raw = await self.client.hgetall(self.versions_key)
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}

    # -- lifecycle --------------------------------------------------------------------------------------------

    async def ping(self) -> bool:
        """Whether Redis answers."""
        return bool(await self.client.ping())

    def pubsub(self) -> Any:
        """A new ``PubSub`` on the client (the caller subscribes to :attr:`channel`)."""
        return self.client.pubsub(ignore_subscribe_messages=True)

    async def close(self) -> None:
        """Close the client if this store made it (a shared client is left to its owner)."""
        if not self._owned:
            return
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.aclose()
            except Exception:  # closing a client whose loop or server is gone: nothing left to release
                pass


__all__ = ["HEADER_SIZE", "RedisCacheStore", "glob_escape"]
