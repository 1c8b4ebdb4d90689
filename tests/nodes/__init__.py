"""Nodes the tests share: glome node classes run in-process (``nodes.sim_nodes``), and
stand-alone programs run as processes (``faulty.py``, ``plain_node.py``)."""
