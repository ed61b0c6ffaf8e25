"""Compat suite: every scenario over ASGI/RSGI in-process and uvicorn/granian real servers."""
