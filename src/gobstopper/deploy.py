"""What a deployment leaves open: the list behind ``gobstopper check --deploy``, also logged once at startup when
``ENV=production`` (``docs/deployment.md``, "The deploy check").

Each finding names a setting left at a development-friendly default that is unsafe on the open internet, and the
setting that closes it. The checks read the app's registry (settings, routes, middleware, mounts); nothing here
starts the app or talks to a service.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._env import env_flag, read_env
from .middleware.security import SecurityMiddleware
from .websocket._settings import WebSocketSettings


@dataclass(frozen=True)
class Finding:
    """One thing the deployment leaves open.

    Attributes:
        key: a stable short name (``trusted_hosts``, ``websocket_origin``, ``debug``, ``secret_key``,
            ``cookies``, ``body_timeout``, ``body_limit``).
        where: the app (``"app"``) or mounted app (``"mount /api"``) it concerns.
        message: what is open, and why it matters.
        fix: the setting that closes it.
    """

    key: str
    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.key}] {self.where}: {self.message}\n    fix: {self.fix}"


def is_production(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``ENV=production`` (any case), the switch the reference documents."""
    return read_env("ENV", str.lower, "", environ) == "production"


def deploy_findings(app: Any, environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Everything ``app`` (and the apps mounted on it) leaves open for a production deployment, in a fixed order.

    ``app`` is a :class:`~gobstopper.Gobstopper` (typed ``Any``: this module must not import the app's module).
    ``environ`` (``os.environ`` by default) decides whether cookie attributes are forced (``ENV=production``).

    Raises:
        ValueError: a WebSocket key of ``app.config`` has a value the app would refuse at startup.
    """
    return list(_findings(app, "app", environ))


def _findings(app: Any, where: str, environ: Mapping[str, str] | None) -> Iterator[Finding]:
    http = app.settings.http
    if http.trusted_hosts is None:
        yield Finding(
            "trusted_hosts",
            where,
            "no trusted_hosts: any well-formed Host is accepted, so request.url, url_for() and redirects can be "
            "made to name another host (cache poisoning, password-reset links)",
            "Gobstopper(..., trusted_hosts=['example.com']) or GOBSTOPPER_TRUSTED_HOSTS=example.com",
        )
    websocket_paths = [record.pattern for record in app.websocket_routes]
    if websocket_paths:
        ws = WebSocketSettings.from_config(app.config)
        if ws.allowed_origins is None:
            yield Finding(
                "websocket_origin",
                where,
                f"WebSocket routes without an Origin policy ({', '.join(websocket_paths)}): browsers send cookies "
                "on the handshake, so any site can open a WebSocket as the logged-in user (Cross-Site WebSocket "
                "Hijacking)",
                "app.config['WS_ALLOWED_ORIGINS'] = ['https://example.com'] (docs/websockets.md)",
            )
    if app.debug:
        yield Finding(
            "debug",
            where,
            "debug is on: 500 answers carry the traceback",
            "Gobstopper(__name__) without debug=True",
        )
    forced = is_production(environ) and not env_flag("GOBSTOPPER_ALLOW_INSECURE_COOKIES", environ)
    for middleware in _security_middleware(app):
        if getattr(middleware, "secret_key_generated", False):
            yield Finding(
                "secret_key",
                where,
                "SecurityMiddleware has a random secret_key: sessions end with the process and are not shared "
                "between workers",
                "SecurityMiddleware(secret_key=os.environ['SECRET_KEY']) with 32 random bytes or more",
            )
        weak = [
            name
            for name, value in (("Secure", middleware.cookie_secure), ("HttpOnly", middleware.cookie_httponly))
            if not value
        ]
        if weak and not forced:
            yield Finding(
                "cookies",
                where,
                f"the session cookie is sent without {' and '.join(weak)} (ENV=production forces them unless "
                "GOBSTOPPER_ALLOW_INSECURE_COOKIES is set)",
                "SecurityMiddleware(cookie_secure=True, cookie_httponly=True), or ENV=production",
            )
    if http.body_timeout is None:
        yield Finding(
            "body_timeout",
            where,
            "no body timeout: a client that stops sending a request body holds its handler for ever",
            "Gobstopper(..., body_timeout=30) or GOBSTOPPER_BODY_TIMEOUT=30 (the default)",
        )
    if http.max_body_bytes is None:
        yield Finding(
            "body_limit",
            where,
            "no request body limit: a client can stream an unbounded body into a handler",
            "Gobstopper(..., max_body_bytes=10 * 1024 * 1024) (the default)",
        )
    for prefix, sub in app.mounts:
        yield from _findings(sub, f"mount {prefix}", environ)


def _security_middleware(app: Any) -> Iterator[SecurityMiddleware]:
    scaffolds = [app, *app.blueprints.values()]
    for scaffold in scaffolds:
        for entry in scaffold.middleware:
            if isinstance(entry.middleware, SecurityMiddleware):
                yield entry.middleware


_warned: weakref.WeakSet[Any] = weakref.WeakSet()


def warn_open_settings(app: Any) -> list[Finding]:
    """Log the findings as one warning on ``app.logger``, the first time only for each app. Returns them."""
    if app in _warned:
        return []
    _warned.add(app)
    findings = deploy_findings(app)
    if findings:
        lines = "\n".join(f"  {finding}" for finding in findings)
        app.logger.warning(
            "ENV=production, and the deployment leaves %d thing(s) open (gobstopper check --deploy):\n%s",
            len(findings),
            lines,
        )
    return findings


__all__ = ["Finding", "deploy_findings", "is_production", "warn_open_settings"]
