"""Server-side sessions and their storage backends."""
