"""Mission Control: a dashboard of one app at ``/_gobstopper`` (``docs/mission-control.md``).

Rules:

1. Off unless the app runs with ``debug=True`` or an access token is configured (``MissionControl(token=...)`` or
   ``GOBSTOPPER_MISSION_CONTROL_TOKEN``). Off means no route and no recording: ``/_gobstopper`` is a 404 and a
   request costs nothing more.
2. With a token, every page and API needs it: ``Authorization: Bearer <token>`` or the cookie the login form sets
   (an HMAC of the token, ``HttpOnly; SameSite=Strict``, scoped to the prefix). Tokens are compared in constant
   time and never read from the query string. Without valid credentials every path but ``/login`` is a 404.
   With ``debug=True`` and no token, it is open (a development machine).
3. Actions (task retry and cancel, logout) are POSTs that need the ``X-Gobstopper-CSRF`` header carrying the
   page's CSRF token (an HMAC, so it is the same in every worker when a token or ``GOBSTOPPER_SECRET_KEY`` is set)
   and no cross-site ``Origin`` / ``Sec-Fetch-Site``; otherwise 403.
4. Every asset is served by the extension itself (no CDN), under a CSP that only allows them.
5. Figures are this worker's unless Redis is configured (``redis_url=`` or ``GOBSTOPPER_MISSION_CONTROL_REDIS_URL``):
   then each worker publishes a snapshot every ``publish_interval`` seconds and the dashboard merges the live
   ones; the page always says which.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import inspect
import json
import logging
import os
import secrets
import socket
import time
from importlib import resources
from typing import Any

from ..._env import parse_bool, read_env
from ..._native.router import FOUND
from ...core.blueprint import Blueprint
from ...http.problem import problem
from ...http.response import HTML, JSONResponse, Response, redirect
from ...http.sse import EventSourceResponse, ServerSentEvent
from . import metrics
from .metrics import Recorder, merge

logger = logging.getLogger("gobstopper.mission_control")

TOKEN_ENV = "GOBSTOPPER_MISSION_CONTROL_TOKEN"
REDIS_ENV = "GOBSTOPPER_MISSION_CONTROL_REDIS_URL"
SECRET_ENV = "GOBSTOPPER_SECRET_KEY"
COOKIE = "gobstopper_mc"
CSRF_HEADER = "x-gobstopper-csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_ASSETS = {"mission-control.js": "text/javascript; charset=utf-8", "mission-control.css": "text/css; charset=utf-8"}
#: Routes of Mission Control itself are left out of the per-route figures.
_OWN = "mission_control."


def wanted(app: Any) -> bool:
    """Whether an app gets Mission Control when it is created: ``debug=True`` or a token in the environment, unless
    ``GOBSTOPPER_MISSION_CONTROL=0`` (then register ``MissionControl(...)`` yourself, with your options)."""
    if not read_env("GOBSTOPPER_MISSION_CONTROL", parse_bool, True):
        return False
    return bool(app.debug) or bool(os.environ.get(TOKEN_ENV, "").strip())


class MissionControl:
    """The Mission Control extension (``app.extensions["mission_control"]``).

    Args:
        token: access token (default ``GOBSTOPPER_MISSION_CONTROL_TOKEN``); with one, Mission Control is on even
            without ``debug``, and every request to it needs the token.
        url_prefix: where it is served.
        redis_url: combine the workers' figures through this Redis (default
            ``GOBSTOPPER_MISSION_CONTROL_REDIS_URL``); without it the figures are this worker's.
        publish_interval: seconds between a worker's snapshots in Redis (and between live updates of the page).

    Attributes:
        enabled: decided by ``init_app`` (rule 1).
        recorder: the per-route figures of this worker (:class:`~.metrics.Recorder`).
    """

    name = "mission_control"

    def __init__(
        self,
        token: str | None = None,
        *,
        url_prefix: str = "/_gobstopper",
        redis_url: str | None = None,
        publish_interval: float = 2.0,
    ) -> None:
        self.token = token if token is not None else (read_env(TOKEN_ENV, str, "") or None)
        self.url_prefix = url_prefix.rstrip("/")
        self.redis_url = redis_url if redis_url is not None else (read_env(REDIS_ENV, str, "") or None)
        self.publish_interval = float(publish_interval)
        self.enabled = False
        self.app: Any = None
        self.recorder = Recorder()
        self.blueprints: list[Blueprint] = []
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        key = (self.token or read_env(SECRET_ENV, str, "") or secrets.token_hex(32)).encode()
        self._session = hmac.new(key, b"gobstopper mission control session", hashlib.sha256).hexdigest()
        self.csrf_token = hmac.new(key, b"gobstopper mission control csrf", hashlib.sha256).hexdigest()
        self._started = time.time()
        self._lag_last = 0.0
        self._lag_max = 0.0
        self._tasks: list[asyncio.Task[Any]] = []
        self._redis: Any = None
        self._process: Any = None
        self._readiness: list[Any] = []

    # -- wiring ------------------------------------------------------------------------------------------------

    def init_app(self, app: Any) -> None:
        self.app = app
        self.enabled = bool(app.debug or self.token)
        if not self.enabled:
            logger.info("Mission Control is off (no debug, no token): %s is not served", self.url_prefix)
            return
        dispatcher = app._dispatcher  # its seam for request figures (core/_dispatch.py, Dispatcher.__init__)
        self.recorder.attach(dispatcher)
        app.logger.addFilter(_ErrorCounter(dispatcher, self.recorder))
        self.blueprints = [self._blueprint()]

    def readiness_check(self, func: Any) -> Any:
        """Decorator: add ``func()`` (sync or async, returning a truthy value when ready) to ``/ready``."""
        self._readiness.append(func)
        return func

    async def startup(self) -> None:
        if not self.enabled:
            return
        self._started = time.time()
        try:
            import psutil

            self._process = psutil.Process()
            self._process.cpu_percent(None)  # the first call only starts the measurement
        except ImportError:
            self._process = None
        self._tasks = [asyncio.ensure_future(self._watch_loop())]
        if self.redis_url:
            import redis.asyncio as redis_asyncio

            self._redis = redis_asyncio.from_url(self.redis_url)
            self._tasks.append(asyncio.ensure_future(self._publish_loop()))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        if self._redis is not None:
            try:
                await self._redis.hdel(self._redis_key, self.worker_id)
                await self._redis.aclose()
            except Exception:  # Redis gone at shutdown: our entry expires by itself
                pass
            self._redis = None

    # -- figures -------------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """What the watch loop does every ``ARM_INTERVAL``: move the dispatcher's counters and timings into the
        figures, and arm the timing of its next request. (``benchmarks/instructions.py`` calls it every 64
        requests, so the figure it prints includes this work.)"""
        self.recorder.drain()
        self.app._dispatcher.time_next = True

    async def _watch_loop(self) -> None:
        # Every ARM_INTERVAL: tick, and measure the event-loop lag (how late the sleep wakes up: the loop was busy).
        loop = asyncio.get_running_loop()
        interval = metrics.ARM_INTERVAL
        while True:
            try:
                self.tick()
            except Exception:  # never let the figures stop: the next tick tries again
                logger.exception("Mission Control tick failed")
            before = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - before - interval)
            self._lag_last = lag
            self._lag_max = max(self._lag_max, lag)

    @property
    def _redis_key(self) -> str:
        return f"gobstopper:mission-control:{self.app.name}"

    async def _publish_loop(self) -> None:
        while True:
            try:
                payload = json.dumps({"at": time.time(), "worker": self.worker_figures(),
                                      "routes": self.recorder.snapshot((_OWN,))})  # fmt: skip
                await self._redis.hset(self._redis_key, self.worker_id, payload)
                await self._redis.expire(self._redis_key, int(self.publish_interval * 30) + 1)
            except Exception:
                logger.warning("Mission Control could not publish to Redis", exc_info=True)
            await asyncio.sleep(self.publish_interval)

    def worker_figures(self) -> dict[str, Any]:
        """This worker's process figures: pid, uptime (s), RSS (bytes), CPU (%), loop lag (s), open sockets."""
        from ...http import _streaming

        dispatcher = getattr(self.app, "_dispatcher", None)
        figures: dict[str, Any] = {
            "id": self.worker_id,
            "pid": os.getpid(),
            "uptime": time.time() - self._started,
            "memory_rss": None,
            "cpu_percent": None,
            "loop_lag": self._lag_last,
            "loop_lag_max": self._lag_max,
            "websockets": len(dispatcher.websockets) if dispatcher is not None else 0,
            "streams": len(_streaming._open_streams.get(self.app, ())),
        }
        if self._process is not None:
            try:
                figures["memory_rss"] = self._process.memory_info().rss
                figures["cpu_percent"] = self._process.cpu_percent(None)
            except Exception:  # the process table can refuse (containers): leave the figure out
                pass
        return figures

    async def _workers(self) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], str]:
        own = (self.worker_figures(), self.recorder.snapshot((_OWN,)))
        if self._redis is None:
            return [own[0]], [own[1]], f"this worker only (pid {os.getpid()}); set a Redis URL to combine workers"
        try:
            entries = await self._redis.hgetall(self._redis_key)
        except Exception:
            return [own[0]], [own[1]], f"this worker only (pid {os.getpid()}): Redis is unreachable"
        fresh = time.time() - 3 * self.publish_interval - 1
        workers, routes = [own[0]], [own[1]]
        for worker_id, raw in entries.items():
            worker_id = worker_id.decode() if isinstance(worker_id, bytes) else worker_id
            if worker_id == self.worker_id:
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("at", 0) >= fresh:
                workers.append(entry["worker"])
                routes.append(entry["routes"])
        return workers, routes, f"{len(workers)} worker(s), combined through Redis"

    async def _task_figures(self) -> dict[str, Any] | None:
        extension = self.app.extensions.get("tasks")
        queue = getattr(extension, "queue", None)
        if queue is None or not queue.enabled:
            return None
        try:
            stats = await queue.get_task_stats()
            recent = await queue.storage.query(limit=25)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        return {
            "stats": stats,
            "recent": [
                {
                    "id": t.id,
                    "name": t.name,
                    "category": t.category,
                    "status": t.status.value,
                    "attempts": t.attempts,
                    "error": t.error,
                }  # fmt: skip
                for t in recent
            ],
        }

    async def _cache_figures(self) -> Any:
        cache = self.app.extensions.get("cache")
        stats = getattr(cache, "stats", None)
        if not callable(stats):
            return None
        try:
            value = stats()
            if inspect.isawaitable(value):
                value = await value
            return value
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def stats(self) -> dict[str, Any]:
        """Everything the dashboard shows, as JSON-ready data (``routes[].errors`` counts unhandled exceptions)."""
        workers, route_rows, scope = await self._workers()
        routes = merge(route_rows)
        return {
            "app": self.app.name,
            "scope": scope,
            "generated_at": time.time(),
            "workers": workers,
            "totals": {
                "requests": sum(r["count"] for r in routes),
                "errors": sum(r["errors"] for r in routes),
                "websockets": sum(w["websockets"] for w in workers),
                "streams": sum(w["streams"] for w in workers),
                "memory_rss": sum(w["memory_rss"] or 0 for w in workers) or None,
            },
            "routes": routes,
            "tasks": await self._task_figures(),
            "cache": await self._cache_figures(),
        }

    # -- access (rules 2 and 3) ---------------------------------------------------------------------------------

    def authorized(self, request: Any) -> bool:
        """Whether ``request`` may see Mission Control (rule 2)."""
        if self.token is None:
            return bool(self.app.debug)
        scheme, _, given = (request.header("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode())

    def _same_origin(self, request: Any) -> bool:
        if (request.header("sec-fetch-site") or "") == "cross-site":
            return False
        origin = request.header("origin")
        if origin is None:
            return True
        try:
            host = request.host
        except Exception:
            return False
        return origin in (f"http://{host}", f"https://{host}")

    def csrf_ok(self, request: Any) -> bool:
        """Whether a POST carries the CSRF token and comes from this origin (rule 3)."""
        given = request.header(CSRF_HEADER) or ""
        return self._same_origin(request) and hmac.compare_digest(given.encode(), self.csrf_token.encode())

    # -- routes ---------------------------------------------------------------------------------------------------

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("mission_control", url_prefix=self.url_prefix)
        try:
            from ..openapi.decorators import exclude

            exclude(bp)  # never in the app's OpenAPI document
        except ImportError:  # pragma: no cover - the OpenAPI extension is part of the package
            pass
        assets = {
            name: resources.files(__package__).joinpath("static").joinpath(name).read_bytes() for name in _ASSETS
        }  # read once: served from memory

        @bp.before_request
        async def guard(request: Any) -> Response | None:
            path = request.path[len(self.url_prefix) :]
            if path == "/login" or path.startswith("/static/"):
                return None  # the sign-in form and its stylesheet
            if not self.authorized(request):
                return problem(404, "Not Found") if not _wants_html(request) else _not_found_page()
            if request.method == "POST" and not self.csrf_ok(request):
                return problem(403, "Missing or wrong CSRF token, or a cross-site request.")
            return None

        @bp.after_request
        async def headers(request: Any, response: Response) -> Response:
            response.headers.setdefault("content-security-policy", CSP)
            response.headers.setdefault("cache-control", "no-store")
            response.headers.setdefault("x-content-type-options", "nosniff")
            response.headers.setdefault("referrer-policy", "no-referrer")
            return response

        @bp.get("")
        async def page(request: Any) -> Response:
            from .page import render_page

            return Response(render_page(self, request), content_type=HTML)

        @bp.get("/")
        async def page_slash(request: Any) -> Response:
            return redirect(self.url_prefix, status=308)

        @bp.get("/static/<name>")
        async def static(request: Any, name: str) -> Response:
            body = assets.get(name)
            if body is None:
                return problem(404, "Not Found")
            return Response(body, content_type=_ASSETS[name], headers={"cache-control": "no-cache"})

        @bp.get("/login")
        async def login_form(request: Any) -> Response:
            if self.token is None:
                return redirect(self.url_prefix, status=303)
            return Response(_login_page(self.url_prefix, ""), content_type=HTML)

        @bp.post("/login")
        async def login(request: Any) -> Response:
            if self.token is None:
                return redirect(self.url_prefix, status=303)
            if not self._same_origin(request):
                return problem(403, "Cross-site login refused.")
            form = await request.get_form()
            given = (form.get("token") or [""])[0]
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return Response(_login_page(self.url_prefix, "Wrong token."), status=401, content_type=HTML)
            response = redirect(self.url_prefix, status=303)
            response.set_cookie(COOKIE, self._session, path=self.url_prefix, httponly=True, samesite="Strict",
                                secure=request.scheme == "https")  # fmt: skip
            return response

        @bp.post("/logout")
        async def logout(request: Any) -> Response:
            response = JSONResponse({"logged_out": True})
            response.set_cookie(COOKIE, "", path=self.url_prefix, max_age=0, httponly=True, samesite="Strict",
                                secure=request.scheme == "https")  # fmt: skip
            return response

        @bp.get("/health")
        async def health(request: Any) -> Any:
            return {"status": "ok", "uptime": time.time() - self._started}

        @bp.get("/ready")
        async def ready(request: Any) -> Any:
            checks: dict[str, Any] = {"serving": bool(getattr(self.app._dispatcher, "serving", True))}
            tasks = await self._task_figures()
            if tasks is not None:
                checks["tasks"] = "error" not in tasks
            for func in self._readiness:
                try:
                    value = func()
                    checks[getattr(func, "__name__", "check")] = bool(await value if inspect.isawaitable(value)
                                                                      else value)  # fmt: skip
                except Exception:
                    checks[getattr(func, "__name__", "check")] = False
            ok = all(checks.values())
            return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503)

        @bp.get("/api/stats")
        async def api_stats(request: Any) -> Any:
            return await self.stats()

        @bp.get("/api/routes")
        async def api_routes(request: Any) -> Any:
            from ...cli.routing import route_rows

            return {"routes": route_rows(self.app)}

        @bp.get("/api/stream")
        async def api_stream(request: Any) -> Any:
            async def events() -> Any:
                while True:
                    yield ServerSentEvent(await self.stats(), event="stats")
                    await asyncio.sleep(min(self.publish_interval, 1.0))

            return EventSourceResponse(events())

        @bp.post("/api/tasks/<task_id>/retry")
        async def retry_task(request: Any, task_id: str) -> Any:
            return await self._task_action(task_id, "retry")

        @bp.post("/api/tasks/<task_id>/cancel")
        async def cancel_task(request: Any, task_id: str) -> Any:
            return await self._task_action(task_id, "cancel")

        return bp

    async def _task_action(self, task_id: str, action: str) -> Any:
        extension = self.app.extensions.get("tasks")
        queue = getattr(extension, "queue", None)
        if queue is None or not queue.enabled:
            return problem(404, "This app has no task queue.")
        done = await (queue.retry_task(task_id) if action == "retry" else queue.cancel_task(task_id))
        if not done:
            reason = "is not failed" if action == "retry" else "is finished"
            return problem(409, f"Task {task_id} {reason} (or does not exist).")
        return {"task": task_id, action: True}


class _ErrorCounter(logging.Filter):
    """Counts the app's unhandled exceptions per route from the record dispatch logs for each one
    (``"unhandled exception in %s %s"``, method and path): the error path only, nothing per request."""

    def __init__(self, dispatcher: Any, recorder: Recorder) -> None:
        super().__init__()
        self.dispatcher = dispatcher
        self.recorder = recorder

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "unhandled exception in %s %s" and isinstance(record.args, tuple) and len(record.args) == 2:
            method, path = record.args
            route = self.dispatcher.exact.get(path, {}).get(method)
            if route is None:
                found, matched, _ = self.dispatcher.router.match(method, path)
                route = matched if found == FOUND else None
            self.recorder.error(route)
        return True  # counted, never suppressed


def _wants_html(request: Any) -> bool:
    try:
        return "text/html" in (request.header("accept") or "")
    except Exception:
        return False


def _not_found_page() -> Response:
    body = "<!doctype html>\n<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
    return Response(body + "\n", status=404, content_type=HTML)


def _login_page(prefix: str, error: str) -> str:
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Mission Control · sign in</title>'
        f'<link rel="stylesheet" href="{html.escape(prefix)}/static/mission-control.css"></head><body class="login">'
        f'<form method="post" action="{html.escape(prefix)}/login"><h1>Mission Control</h1>{message}'
        '<label>Access token <input type="password" name="token" autocomplete="current-password" required></label>'
        '<button type="submit">Sign in</button></form></body></html>\n'
    )
