"""Shared test helpers: harnesses that drive nodes over MemoryTransport, test doubles."""
