"""The two-tier cache (memory, then Redis): the ``cache`` extension behind ``app.init_cache_from_env()``."""
