"""Protocol adapters: the only code that knows a server protocol (RSGI for Granian, ASGI for the rest)."""
