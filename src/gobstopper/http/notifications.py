"""Flash-style notifications kept in the session until the next page shows them.

They need a session (``request.session``): :class:`~gobstopper.sessions.SessionMiddleware` or
:class:`~gobstopper.middleware.security.SecurityMiddleware`. At most
``MAX_NOTIFICATIONS`` are kept per session; older ones are dropped first.
"""

from __future__ import annotations

from typing import Any

SESSION_KEY = "_notifications"
MAX_NOTIFICATIONS = 50


def _session(request: Any) -> Any:
    session = getattr(request, "session", None)
    if session is None:
        raise RuntimeError("notifications need a session: add SessionMiddleware (or SecurityMiddleware) to the app")
    return session


def notification(request: Any, message: str, category: str = "info") -> None:
    """Queue ``message`` for the next page of this session.

    Args:
        request: the current request.
        message: the text to show.
        category: e.g. ``"success"``, ``"info"``, ``"warning"``, ``"error"``.

    Example:
        >>> notification(request, "User created successfully!", "success")
    """
    session = _session(request)
    items = list(session.get(SESSION_KEY) or [])
    items.append({"message": str(message), "category": str(category)})
    session[SESSION_KEY] = items[-MAX_NOTIFICATIONS:]


def _select(items: list[dict[str, str]], with_categories: bool, category_filter: Any) -> list[Any]:
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        items = [i for i in items if i.get("category") in wanted]
    if with_categories:
        return [(i.get("category", "info"), i.get("message", "")) for i in items]
    return [i.get("message", "") for i in items]


def get_notifications(request: Any, with_categories: bool = False, category_filter: Any = ()) -> list[Any]:
    """Return and remove the queued notifications (only the filtered ones when ``category_filter`` is given).

    Args:
        request: the current request.
        with_categories: return ``(category, message)`` pairs instead of messages.
        category_filter: a category or categories to return (and remove); others stay queued.
    """
    session = _session(request)
    items = list(session.get(SESSION_KEY) or [])
    if not items:
        return []
    selected = _select(items, with_categories, category_filter)
    if category_filter:
        wanted = {category_filter} if isinstance(category_filter, str) else set(category_filter)
        rest = [i for i in items if i.get("category") not in wanted]
    else:
        rest = []
    if rest:
        session[SESSION_KEY] = rest
    else:
        session.pop(SESSION_KEY, None)
    return selected


def peek_notifications(request: Any, with_categories: bool = False, category_filter: Any = ()) -> list[Any]:
    """The queued notifications, left in place."""
    return _select(list(_session(request).get(SESSION_KEY) or []), with_categories, category_filter)


def clear_notifications(request: Any) -> None:
    """Drop every queued notification."""
    session = _session(request)
    if SESSION_KEY in session:
        session.pop(SESSION_KEY, None)


__all__ = ["clear_notifications", "get_notifications", "notification", "peek_notifications"]
