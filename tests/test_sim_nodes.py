"""The simulator tests' nodes (``tests/nodes/sim_nodes.py``) are node classes."""

from __future__ import annotations

from nodes.sim_nodes import Crasher, Flood, Forgetful, GCounter, Gossip, Silent

from glome.runtime import Node


def test_nodes_are_node_classes() -> None:
    for cls in (Flood, Gossip, Forgetful, GCounter, Crasher, Silent):
        assert issubclass(cls, Node)
