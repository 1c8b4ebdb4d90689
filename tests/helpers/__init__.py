"""Shared test helpers: the Maelstrom corpus, history builders, a transport wrapper for test nodes."""
