"""``@cached(ttl=..., key=...)``: whole responses of a handler, kept in the app's cache.

What is stored is the response's status, headers and body bytes (a fresh :class:`Response` is built for every
hit, so middleware may change it freely). A response is stored only when it is safe to hand to anyone who asks
with the same key:

* the request method is GET or HEAD (HEAD shares GET's entries) and carries no ``Authorization`` header
  (RFC 9111 §3.5), unless a ``key`` function was given;
* the status is heuristically cacheable (RFC 9111 §4.2.2: 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501);
* the body is bytes (not a file or a stream) and no ``Set-Cookie`` header is present;
* the response's own ``Cache-Control`` has none of ``no-store``, ``no-cache``, ``private``, and its ``Vary``
  names only request headers listed in ``vary`` (which are part of the key);
* the handler did not read the session (``request.session``), unless a ``key`` function was given; the entry
  then keeps ``Cache-Control: private`` and ``Vary: Cookie``, so shared HTTP caches never store it.

A client's ``Cache-Control: no-cache`` (or ``max-age=0``, or ``Pragma: no-cache`` without ``Cache-Control``)
skips the stored entry (RFC 9111 §5.2.1.4): the handler runs and its answer replaces the entry. Such requests still
go through singleflight, so a burst of them runs the handler once. ``no-store`` stores nothing (§5.2.1.5).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import anyio

from ..http.response import BYTES, Response
from ._cache import Cache, Uncached

#: RFC 9111 §4.2.2 "heuristically cacheable" statuses, less 206 (a range is not the whole response).
CACHEABLE_STATUSES = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
#: What an entry holds: status, header pairs, body (typed, so a JSON-encoded body comes back as bytes).
_STORED = tuple[int, list[tuple[str, str]], bytes]
_LONG = 256


def _directives(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.strip().lower().replace(" ", "") for part in value.split(",") if part.strip()}


def default_key(request: Any, vary: Iterable[str] = ()) -> str:
    """``http:<path>?<sorted query>`` plus ``|<header>=<value>`` for each ``vary`` header; the part after the path
    is replaced by its SHA-256 when long, so ``invalidate_prefix("http:/users/")`` still finds it."""
    pairs = sorted((name, value) for name, values in request.args.items() for value in values)
    rest = ("?" + urlencode(pairs)) if pairs else ""
    for name in vary:
        rest += f"|{name}={request.headers.get(name, '')}"
    if len(rest) > _LONG:
        rest = "#" + hashlib.sha256(rest.encode("utf-8", "surrogatepass")).hexdigest()
    return "http:" + request.path + rest


def _storable(response: Response, vary: frozenset[str], statuses: frozenset[int]) -> bool:
    if response.kind != BYTES or response.status not in statuses:
        return False
    headers = response.headers
    if "set-cookie" in headers:
        return False
    if _directives(headers.get("cache-control")) & {"no-store", "no-cache", "private"}:
        return False
    varies = {name.strip().lower() for name in (headers.get("vary") or "").split(",") if name.strip()}
    return not (varies - vary)


def _pack(response: Response, private: bool) -> list[Any]:
    headers = [[name, value] for name, value in response.raw_headers]
    if private:
        names = {name for name, _ in response.raw_headers}
        if "cache-control" not in names:
            headers.append(["cache-control", "private"])
        headers.append(["vary", "Cookie"])
    body = response.body
    return [response.status, headers, body.encode() if isinstance(body, str) else body]


def _unpack(stored: list[Any]) -> Response:
    status, headers, body = stored
    response = Response(body, status)
    response.raw_headers = [(name, value) for name, value in headers]
    return response


def cached(
    ttl: float | None = None,
    key: str | Callable[[Any], str | None] | None = None,
    *,
    cache: Cache | None = None,
    vary: Iterable[str] = (),
    tags: Iterable[str] | Callable[[Any], Iterable[str]] = (),
    stale_while_revalidate: float | None = None,
    stale_if_error: float | None = None,
    methods: Iterable[str] = ("GET", "HEAD"),
    statuses: Iterable[int] = CACHEABLE_STATUSES,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Cache a handler's responses (place it under the route decorator).

    Args:
        ttl: seconds a response is fresh (the cache's ``default_ttl`` when None).
        key: the cache key: a string, or ``key(request)`` returning one (None: do not cache this request). By
            default :func:`default_key` (path, sorted query, ``vary`` headers).
        cache: the :class:`Cache` to use; by default ``request.app.cache`` (``app.init_cache_from_env()``).
        vary: request headers that select different responses (``("Accept",)``); part of the default key.
        tags: labels for ``cache.invalidate_tags`` (or ``tags(request)``).
        stale_while_revalidate, stale_if_error: as in :meth:`Cache.get_or_set`.
        methods: request methods served from the cache; others run the handler untouched.
        statuses: statuses that may be stored.

    Raises:
        RuntimeError: (when called) no ``cache`` was given and the app has none.

    Example:
        >>> @app.get("/report")
        ... @cached(ttl=60)
        ... async def report(request):
        ...     return {"rows": await slow_query()}
    """
    vary_names = frozenset(name.lower() for name in vary)
    vary_list = tuple(sorted(vary_names))
    allowed_methods = frozenset(method.upper() for method in methods)
    cacheable = frozenset(statuses)

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        is_async = inspect.iscoroutinefunction(handler)

        @functools.wraps(handler)
        async def cached_handler(request: Any, *args: Any, **kwargs: Any) -> Any:
            from ..core._returns import to_response

            async def run() -> Response:
                if is_async:
                    rv = await handler(request, *args, **kwargs)
                else:
                    rv = await anyio.to_thread.run_sync(functools.partial(handler, request, *args, **kwargs))
                return to_response(rv)

            store = cache if cache is not None else getattr(getattr(request, "app", None), "cache", None)
            if store is None:
                raise RuntimeError("@cached needs a cache: call app.init_cache_from_env() or pass cached(cache=...)")
            if request.method not in allowed_methods:
                return await run()
            headers = request.headers
            if key is None:
                if "authorization" in headers:
                    return await run()
                cache_key = default_key(request, vary_list)
            else:
                chosen = key(request) if callable(key) else key
                if chosen is None:
                    return await run()
                cache_key = chosen
            control = headers.get("cache-control")
            directives = _directives(control)
            if control is None and "no-cache" in _directives(headers.get("pragma")):
                directives.add("no-cache")
            entry_tags = tuple(tags(request) if callable(tags) else tags)
            ran: list[bool] = []

            async def produce() -> Any:
                ran.append(True)
                response = await run()
                if "no-store" in directives or not _storable(response, vary_names, cacheable):
                    return Uncached(response)
                session = getattr(request, "session", None)
                touched = bool(getattr(session, "accessed", False))
                if touched and key is None:
                    return Uncached(response)
                return _pack(response, private=touched)

            if directives & {"no-cache", "max-age=0"}:
                value = await store.refresh(
                    cache_key,
                    produce,
                    ttl=ttl,
                    stale_while_revalidate=stale_while_revalidate,
                    stale_if_error=stale_if_error,
                    tags=entry_tags,
                )
            else:
                value = await store.get_or_set(
                    cache_key,
                    produce,
                    ttl=ttl,
                    stale_while_revalidate=stale_while_revalidate,
                    stale_if_error=stale_if_error,
                    tags=entry_tags,
                    type=_STORED,
                )
            if isinstance(value, Response):
                # Not stored: only the request whose handler made it may have it.
                return value if ran else await run()
            return _unpack(value)

        return cached_handler

    return decorator


__all__ = ["CACHEABLE_STATUSES", "cached", "default_key"]
