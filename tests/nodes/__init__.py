"""Nodes the tests share: glome node classes run in-process, and stand-alone programs run as
processes (``faulty.py``, ``plain_node.py``). Import as ``nodes.<module>``."""
