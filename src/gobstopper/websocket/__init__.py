"""WebSockets: the connection API and the room manager."""
