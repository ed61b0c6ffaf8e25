"""The two-tier cache (memory, then Redis): the ``cache`` extension behind ``app.init_cache_from_env()``.

>>> from gobstopper.cache import Cache, cache_from_env, cached
"""

from ._cache import Cache, CacheFacade, Uncached
from ._decorator import CACHEABLE_STATUSES, cached, default_key
from ._env import ENV_VARS, CacheConfigError, SurrealCacheStore, cache_from_env
from ._extension import CacheExtension
from ._memory import MemoryCacheStore
from ._redis import RedisCacheStore

__all__ = [
    "CACHEABLE_STATUSES",
    "ENV_VARS",
    "Cache",
    "CacheConfigError",
    "CacheExtension",
    "CacheFacade",
    "MemoryCacheStore",
    "RedisCacheStore",
    "SurrealCacheStore",
    "Uncached",
    "cache_from_env",
    "cached",
    "default_key",
]
