"""Find a node class from ``"module:Class"`` (or ``"module"`` with a ``NODE`` attribute)."""

from __future__ import annotations

import importlib

from glome.runtime.node import Node


def load_node_class(spec: str) -> type[Node]:
    module_name, _, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, attr or "NODE", None)
    if not (isinstance(obj, type) and issubclass(obj, Node)):
        raise ValueError(f"{spec!r} does not name a glome Node subclass")
    return obj
