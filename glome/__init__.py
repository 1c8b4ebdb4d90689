"""glome: learn, test and analyse distributed systems on the Maelstrom model."""

__version__ = "0.1.0"
