"""Utilities: rate limiting and idempotency."""
