"""The httpx client the test clients return responses of: httpx2 when installed (Starlette 1.x prefers it), else
httpx. The two share one API."""

from __future__ import annotations

try:
    import httpx2 as httpx
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    try:
        import httpx  # type: ignore[no-redef]
    except ModuleNotFoundError:
        message = "gobstopper.testing needs an httpx client: pip install 'gobstopper[testing]'"
        raise ModuleNotFoundError(message) from None

__all__ = ["httpx"]
