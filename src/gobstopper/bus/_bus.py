"""The message bus: named channels whose messages reach every subscriber in every process of an app.

Rules this module keeps (docs/scaling.md explains them for users):

1. Local first. :meth:`MessageBus.publish` calls this process's subscribers before it touches the network, so
   local delivery never waits on, or fails with, Redis. Each process drops its own messages when Redis echoes
   them back (every message carries the publisher's :attr:`~MessageBus.node_id`): a subscriber gets a message
   exactly once.
2. One connection listens for the whole bus: a single ``PSUBSCRIBE <prefix>*`` made at startup, so a channel is
   live in every process as soon as the bus is connected, with no per-channel subscribe round trip or race (the
   Socket.IO Redis adapter works the same way). Every process therefore receives every message of the bus and
   drops those it has no subscriber for: a dictionary lookup.
3. Redis pub/sub is at-most-once: a process that is not connected when a message is published never sees it.
   A lost connection is retried with exponential backoff and full jitter (``retry_initial`` doubling up to
   ``retry_max`` seconds), logged once as a warning when it is lost and once when it is back; meanwhile
   ``publish`` delivers locally and skips Redis. Topics (:mod:`gobstopper.bus._topics`) add a history in a Redis
   Stream, from which a reconnecting client catches up.
4. Subscriber callbacks are synchronous and must not block (queue the message, offer it to a WebSocket's send
   queue). One that raises is logged; the others still get the message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

logger = logging.getLogger("gobstopper.bus")

#: A subscriber: called with the message's bytes, on the event loop, once per message.
Callback = Callable[[bytes], None]
#: Answers a :meth:`MessageBus.request` in this process: the request's bytes in, the reply's bytes out.
Responder = Callable[[bytes], Awaitable[bytes] | bytes]

_NODE_BYTES = 16  # the publisher's id at the head of every message on the wire (hex of 8 random bytes)
_REQ_BYTES = 16  # a request's id, after the node id
_SCHEMES_REDIS = ("redis://", "rediss://", "unix://")

#: The buses started in this process and not closed yet (what an unbound WebSocketManager may adopt).
_active: weakref.WeakSet[MessageBus] = weakref.WeakSet()


def active_bus() -> MessageBus | None:
    """The one bus started in this process, or None when there is none or more than one (then pass ``bus=``)."""
    buses = [bus for bus in _active if not bus.closed]
    return buses[0] if len(buses) == 1 else None


class Subscription:
    """A subscriber's registration on one channel; :meth:`close` (or ``with``) removes it."""

    __slots__ = ("_bus", "callback", "channel")

    def __init__(self, bus: MessageBus, channel: str, callback: Callback) -> None:
        self._bus = bus
        self.channel = channel
        self.callback = callback

    def close(self) -> None:
        """Stop receiving (harmless if already closed)."""
        self._bus._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MessageBus:
    """Publish/subscribe across the processes (and hosts) of an app: in-process, or through Redis pub/sub.

    Args:
        url: ``memory://`` (the default: this process only), or a Redis URL (``redis://host:6379/0``,
            ``rediss://``, ``unix:///path``): the bus makes its own client (``timeout`` seconds to connect and per
            command, one retry on a broken connection, a ``PING`` on the listening connection every 15 s).
        redis: or a ``redis.asyncio.Redis`` client to share (with sessions, rate limits, the cache); it must have
            ``decode_responses=False``. Its timeouts are yours; it is not closed by :meth:`close`.
        prefix: the prefix of every channel and key of the bus (apps sharing a Redis need different ones).
        timeout: seconds: connecting, one command, waiting for a bus to connect, waiting for replies.
        retry_initial: seconds before the first reconnection attempt; doubles after each failure...
        retry_max: ...up to this many seconds.
        history: events kept per topic for ``Last-Event-ID`` replay (see :meth:`topic`).

    Raises:
        ValueError: an unknown URL scheme, both ``url`` and ``redis``, a client decoding responses to ``str``, or
            a negative time.

    Attributes:
        node_id: this bus's random id (16 hex characters), on every message it publishes.
        stats: counters: ``published``, ``received`` (from other processes), ``publish_errors``, ``skipped``
            (not sent to Redis while disconnected), ``reconnects``, ``callback_errors``.

    Example:
        >>> bus = MessageBus()  # memory://
        >>> got = []
        >>> sub = bus.subscribe("news", got.append)
        >>> asyncio.run(bus.publish("news", b"hello"))
        0
        >>> got
        [b'hello']
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        redis: Any = None,
        prefix: str = "gobstopper:bus:",
        timeout: float = 2.0,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        history: int = 1000,
    ) -> None:
        if url is not None and redis is not None:
            raise ValueError("MessageBus takes a url or a redis client, not both")
        for name, value in (("timeout", timeout), ("retry_initial", retry_initial), ("retry_max", retry_max)):
            if not value >= 0:  # also NaN
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
        if type(history) is not int or history < 1:
            raise ValueError(f"history must be a whole number of events >= 1, not {history!r}")
        url = url or "memory://"
        if redis is not None:
            kwargs: dict[str, Any] = getattr(redis, "get_connection_kwargs", dict)()
            if kwargs.get("decode_responses"):
                raise ValueError("the bus's Redis client must have decode_responses=False (messages are bytes)")
            self.backend = "redis"
        elif url.startswith(_SCHEMES_REDIS):
            self.backend = "redis"
        elif url == "memory://":
            self.backend = "memory"
        else:
            raise ValueError(f"unknown bus URL {url!r}: use memory:// or redis://host:6379/0 (rediss://, unix://)")
        self.url = None if redis is not None else url
        self.prefix = prefix
        self.timeout = float(timeout)
        self.retry_initial = float(retry_initial)
        self.retry_max = float(retry_max)
        self.history = history
        self.node_id = secrets.token_hex(_NODE_BYTES // 2)
        self._node = self.node_id.encode()
        self._client = redis
        self._owned = redis is None and self.backend == "redis"
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, list[Subscription]] = {}
        self._responders: dict[str, Responder] = {}
        self._pending: dict[bytes, tuple[asyncio.Queue[bytes], str]] = {}
        self._reconnect_hooks: list[Callable[[], None]] = []
        # Topics by name. With Redis a topic's state is in Redis: unused Topic objects go away (topic names may come
        # from requests); memory:// keeps each topic's history here, so it keeps the objects.
        self._topics: Any = weakref.WeakValueDictionary() if self.backend == "redis" else {}
        self._names: dict[str, Any] = {}  # WebSocketManager names on this bus -> the manager
        self._listener: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected: asyncio.Event | None = None  # made in the loop that listens (see _bind_loop)
        self._is_connected = False
        self._background: set[asyncio.Task[Any]] = set()
        self._scripts: dict[str, Any] = {}
        self.closed = False
        self.stats: dict[str, int] = dict.fromkeys(
            ("published", "received", "publish_errors", "skipped", "reconnects", "callback_errors"), 0
        )

    def __repr__(self) -> str:
        where = "memory" if self.backend == "memory" else (self.url or "redis client")
        state = "closed" if self.closed else ("connected" if self.connected else "local")
        return f"<MessageBus {where} {state} node={self.node_id}>"

    # -- properties ---------------------------------------------------------------------------------------------

    @property
    def distributed(self) -> bool:
        """Whether messages reach other processes (a Redis bus), whether or not Redis is reachable right now."""
        return self.backend == "redis"

    @property
    def connected(self) -> bool:
        """Whether the listening connection to Redis is subscribed (always False for ``memory://``)."""
        return self._is_connected

    @property
    def redis(self) -> Any:
        """The ``redis.asyncio.Redis`` client of the bus, to share with sessions, rate limits and the cache
        (``AsyncRedisSessionStorage(client=app.bus.redis)``); None for ``memory://``.

        A client the bus made from its URL belongs to the event loop that first used it; used from another loop
        (a second ``asyncio.run``, a new test client), the bus makes a new one.
        """
        if self.backend != "redis":
            return None
        if not self._owned:
            return self._client
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._client is None or (
            loop is not None and self._client_loop is not None and loop is not self._client_loop
        ):
            self._client = self._make_client()
            self._scripts.clear()
            self._client_loop = loop
        elif loop is not None and self._client_loop is None:
            self._client_loop = loop
        return self._client

    def _make_client(self) -> Any:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        assert self.url is not None
        return Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            # One retry: a pooled connection that died with a Redis restart fails once, then a new one is made.
            # Never more: while Redis is down the bus skips it instead of waiting (rule 3). The errors are named:
            # redis-py before 6 drops a ``retry`` given without ``retry_on_error`` (no retry at all).
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
            health_check_interval=15,
            decode_responses=False,
        )

    def script(self, name: str, source: str) -> Any:
        """A registered Lua script on the bus's client (cached per client)."""
        client = self.redis
        found = self._scripts.get(name)
        if found is None or found.registered_client is not client:
            found = self._scripts[name] = client.register_script(source)
        return found

    # -- subscribing --------------------------------------------------------------------------------------------

    def subscribe(self, channel: str, callback: Callback) -> Subscription:
        """Call ``callback(data)`` for every message on ``channel``, from this process or another.

        Synchronous: the channel is live in every process as soon as the bus is connected (rule 2). The callback
        runs on the event loop and must not block.
        """
        _check_channel(channel)
        subscription = Subscription(self, channel, callback)
        self._subscribers.setdefault(channel, []).append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        subs = self._subscribers.get(subscription.channel)
        if subs is None:
            return
        with suppress(ValueError):
            subs.remove(subscription)
        if not subs:
            del self._subscribers[subscription.channel]

    def subscriber_count(self, channel: str) -> int:
        """How many subscriptions this process has on ``channel``."""
        return len(self._subscribers.get(channel, ()))

    def on_reconnect(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` each time the bus is connected again after losing Redis (topics catch up there)."""
        self._reconnect_hooks.append(hook)

    # -- publishing ---------------------------------------------------------------------------------------------

    async def publish(self, channel: str, data: bytes | str, *, local: bool = True) -> int:
        """Deliver ``data`` to ``channel``'s subscribers here (unless ``local=False``), then in every other process.

        Returns:
            How many other processes' buses received it (0 for ``memory://``, when Redis is unreachable, or
            when nobody else listens). Redis trouble is logged, never raised: local delivery has happened.

        Raises:
            TypeError: ``data`` is not bytes or str.
        """
        _check_channel(channel)
        if isinstance(data, str):
            data = data.encode()
        elif not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"bus messages are bytes or str, not {type(data).__name__}")
        data = bytes(data)
        self.stats["published"] += 1
        if local:
            self.deliver(channel, data)
        if self.backend != "redis":
            return 0
        if not await self._ready():
            self.stats["skipped"] += 1
            return 0
        try:
            receivers = await self.redis.publish(self.prefix + "c:" + channel, self._node + data)
        except Exception as exc:
            self._publish_failed(exc)
            return 0
        return max(int(receivers) - 1, 0)  # our own listener is one of them

    def deliver(self, channel: str, data: bytes) -> int:
        """Call this process's subscribers of ``channel`` (what :meth:`publish` does locally); how many."""
        subs = self._subscribers.get(channel)
        if not subs:
            return 0
        for sub in tuple(subs):
            try:
                sub.callback(data)
            except Exception:
                self.stats["callback_errors"] += 1
                logger.exception("bus: a subscriber of %r failed", channel)
        return len(subs)

    def _publish_failed(self, exc: BaseException) -> None:
        self.stats["publish_errors"] += 1
        if self.stats["publish_errors"] == 1 or self.stats["publish_errors"] % 1000 == 0:
            logger.warning(
                "bus: publishing to Redis failed (%s: %s); delivered in this process only (%d failures so far)",
                type(exc).__name__,
                exc,
                self.stats["publish_errors"],
            )

    # -- requests (every process answers) -----------------------------------------------------------------------

    def respond(self, channel: str, responder: Responder) -> None:
        """Answer :meth:`request` calls on ``channel`` in this process with ``responder(data)`` (sync or async)."""
        _check_channel(channel)
        self._responders[channel] = responder

    def stop_responding(self, channel: str, responder: Responder | None = None) -> None:
        """Stop answering on ``channel`` (only if ``responder`` is the registered one, when given)."""
        if responder is None or self._responders.get(channel) is responder:
            self._responders.pop(channel, None)

    async def request(self, channel: str, data: bytes = b"", timeout: float | None = None) -> list[bytes]:
        """Ask every process's responder on ``channel`` (this one's first) and collect the answers.

        Waits until every other process that received the request answered (Redis tells how many received it:
        processes whose bus has no responder on the channel answer "nothing"), or ``timeout`` seconds (the bus's
        ``timeout`` by default): a process that died meanwhile is not waited for longer.

        Returns:
            The answers, this process's first (processes without a responder are not in the list).
        """
        _check_channel(channel)
        answers: list[bytes] = []
        local = self._responders.get(channel)
        if local is not None:
            answers.append(await _call(local, data))
        if self.backend != "redis" or not await self._ready():
            return answers
        request_id = secrets.token_hex(_REQ_BYTES // 2).encode()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._pending[request_id] = (queue, channel)
        try:
            try:
                receivers = await self.redis.publish(self.prefix + "q:" + channel, self._node + request_id + data)
            except Exception as exc:
                self._publish_failed(exc)
                return answers
            expected = max(int(receivers) - 1, 0)
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while expected > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    reply = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                expected -= 1
                if reply[:1] == b"1":
                    answers.append(reply[1:])
        finally:
            self._pending.pop(request_id, None)
        return answers

    async def _answer(self, channel: str, origin: bytes, request_id: bytes, data: bytes) -> None:
        responder = self._responders.get(channel)
        try:
            reply = b"0" if responder is None else b"1" + await _call(responder, data)
        except Exception:
            logger.exception("bus: the responder on %r failed", channel)
            reply = b"0"
        try:
            await self.redis.publish(self.prefix + "r:" + origin.decode(), self._node + request_id + reply)
        except Exception as exc:
            self._publish_failed(exc)

    # -- topics -------------------------------------------------------------------------------------------------

    def topic(self, name: str, *, history: int | None = None) -> Any:
        """The SSE topic ``name`` (one object per name): publish events to every subscribed stream of every
        process, replay what a reconnecting client missed (``Last-Event-ID``). See :class:`~gobstopper.bus.Topic`.

        Args:
            name: the topic's name.
            history: events kept for replay (the bus's ``history`` by default); a Redis Stream per topic.
        """
        from ._topics import Topic

        _check_channel(name)
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = Topic(self, name, self.history if history is None else history)
        return topic

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (Redis), and wait up to ``timeout`` seconds for the subscription.

        A Redis that is down is a warning, not a failed start: the bus delivers locally and keeps retrying.
        """
        self.closed = False
        _active.add(self)
        if self.backend != "redis":
            return
        self._ensure_listener()
        await self.wait_connected(self.timeout)

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until the bus is connected (at most ``timeout`` seconds); whether it is."""
        if self.backend != "redis":
            return False
        self._ensure_listener()
        assert self._connected is not None
        if not self._is_connected:
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._connected.wait(), timeout)
        return self._is_connected

    async def _ready(self) -> bool:
        # First use without start() (a script, a test without lifespan): connect now, once.
        if self._listener is None or self._loop is not asyncio.get_running_loop():
            return await self.wait_connected(self.timeout)
        return self._is_connected

    async def close(self) -> None:
        """Stop listening and close the client the bus made (a shared client is left to its owner)."""
        self.closed = True
        _active.discard(self)
        tasks = [t for t in (self._listener, *self._background) if t is not None and not t.done()]
        self._listener = None
        self._is_connected = False
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self._background.clear()
        if self._owned and self._client is not None:
            client, self._client = self._client, None
            self._client_loop = None
            with suppress(Exception):
                await client.aclose()

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Tasks and connections belong to the loop that made them: start afresh in this one.
            self._loop = loop
            self._listener = None
            self._is_connected = False
            self._connected = asyncio.Event()
            self._background.clear()
            self._pending.clear()

    def _ensure_listener(self) -> None:
        self._bind_loop()
        if self.closed:
            return
        if self._listener is None or self._listener.done():
            assert self._loop is not None
            self._listener = self._loop.create_task(self._listen(), name=f"gobstopper-bus-{self.node_id}")

    async def _listen(self) -> None:
        delay = self.retry_initial
        failures = 0
        lost_at = 0.0
        assert self._connected is not None
        while not self.closed:
            pubsub = None
            try:
                pubsub = self.redis.pubsub()
                await pubsub.psubscribe(self.prefix + "*")
                # The confirmation: from here on, every message published on the bus reaches this process.
                while True:
                    message = await pubsub.get_message(timeout=self.timeout)
                    if message is None:
                        raise ConnectionError("no subscription confirmation from Redis")
                    if message.get("type") == "psubscribe":
                        break
                self._is_connected = True
                self._connected.set()
                if failures:
                    self._reconnected(f"after {time.monotonic() - lost_at:.1f}s ({failures} attempts)")
                failures, delay = 0, self.retry_initial
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is None:
                        continue
                    kind = message.get("type")
                    if kind == "pmessage":
                        self._on_wire(message["channel"], message["data"])
                    elif kind == "psubscribe":
                        # redis-py reconnected the connection on its own and subscribed again: a gap all the same.
                        self._reconnected("at once")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.closed:
                    return
                self._is_connected = False
                self._connected.clear()
                failures += 1
                if failures == 1:
                    lost_at = time.monotonic()
                    logger.warning(
                        "bus: Redis is unavailable (%s: %s); delivering in this process only, reconnecting with"
                        " backoff (up to %gs between attempts)",
                        type(exc).__name__,
                        exc,
                        self.retry_max,
                    )
                else:
                    logger.debug("bus: reconnection attempt %d failed: %s: %s", failures, type(exc).__name__, exc)
                await asyncio.sleep(random.uniform(delay / 2, delay))  # jittered, so workers do not stampede
                delay = min(self.retry_max, max(delay * 2, 0.001))
            finally:
                if pubsub is not None:
                    with suppress(Exception):
                        await pubsub.aclose()

    def _reconnected(self, how: str) -> None:
        self.stats["reconnects"] += 1
        logger.warning(
            "bus: Redis is reachable again %s; messages published meanwhile by other processes were not received"
            " (topics catch up from their history)",
            how,
        )
        for topic in list(self._topics.values()):
            topic._on_reconnect()
        for hook in tuple(self._reconnect_hooks):
            try:
                hook()
            except Exception:
                logger.exception("bus: a reconnect hook failed")

    def _on_wire(self, raw_channel: bytes | str, payload: bytes) -> None:
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel
        if not channel.startswith(self.prefix) or len(payload) < _NODE_BYTES:
            return
        kind, _, name = channel[len(self.prefix) :].partition(":")
        origin, body = payload[:_NODE_BYTES], payload[_NODE_BYTES:]
        if origin == self._node:
            return  # our own message, already delivered locally (rule 1)
        if kind == "c":
            self.stats["received"] += 1
            self.deliver(name, body)
        elif kind == "q":
            task = asyncio.get_running_loop().create_task(
                self._answer(name, origin, body[:_REQ_BYTES], body[_REQ_BYTES:])
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        elif kind == "r" and name == self.node_id:
            pending = self._pending.get(body[:_REQ_BYTES])
            if pending is not None:
                pending[0].put_nowait(body[_REQ_BYTES:])
        elif kind == "t":
            self.stats["received"] += 1
            self.deliver("\x00topic:" + name, body)


def _check_channel(channel: Any) -> None:
    if type(channel) is not str or not channel:
        raise TypeError(f"a bus channel is a non-empty str, not {channel!r}")


async def _call(responder: Responder, data: bytes) -> bytes:
    result = responder(data)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        result = await result
    return bytes(result)  # type: ignore[arg-type]


def bus_from_env(environ: Any = None, **options: Any) -> MessageBus:
    """A :class:`MessageBus` for ``GOBSTOPPER_BUS_URL`` (``memory://`` when unset) and ``GOBSTOPPER_BUS_PREFIX``."""
    env = os.environ if environ is None else environ
    url = env.get("GOBSTOPPER_BUS_URL", "").strip() or None
    prefix = env.get("GOBSTOPPER_BUS_PREFIX", "").strip()
    if prefix and "prefix" not in options:
        options["prefix"] = prefix
    if options.get("redis") is not None:
        url = None
    return MessageBus(url, **options)


__all__ = ["Callback", "MessageBus", "Responder", "Subscription", "active_bus", "bus_from_env"]
