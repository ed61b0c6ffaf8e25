"""Server-side sessions: the middleware (``SessionMiddleware``), the session object and the storage backends.

``MemorySessionStorage`` and ``FileSessionStorage`` need nothing; ``AsyncRedisSessionStorage`` needs the
``redis`` extra and ``PostgresSessionStorage`` the ``postgres`` extra (imported from their modules).
"""

from .memory_storage import MemorySessionStorage
from .middleware import SessionMiddleware
from .session import Session
from .storage import AsyncBaseSessionStorage, BaseSessionStorage, FileSessionStorage, maybe_await

__all__ = [
    "AsyncBaseSessionStorage",
    "BaseSessionStorage",
    "FileSessionStorage",
    "MemorySessionStorage",
    "Session",
    "SessionMiddleware",
    "maybe_await",
]
