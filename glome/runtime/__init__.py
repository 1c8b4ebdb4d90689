"""The glome node runtime: write a Maelstrom node once, run it over stdio or in the simulator.

Imports nothing heavier than orjson: node processes start fast.
"""

from glome.errors import ErrorCode, RPCError, RPCTimeout
from glome.protocol import Message
from glome.runtime.clock import Clock, LoopClock
from glome.runtime.kv import KV, LWWKV, TSO, LinKV, SeqKV
from glome.runtime.metrics import Metrics
from glome.runtime.node import Node, handler
from glome.runtime.transport import MemoryTransport, StdioTransport, Transport

__all__ = [
    "KV",
    "LWWKV",
    "TSO",
    "Clock",
    "ErrorCode",
    "LinKV",
    "LoopClock",
    "MemoryTransport",
    "Message",
    "Metrics",
    "Node",
    "RPCError",
    "RPCTimeout",
    "SeqKV",
    "StdioTransport",
    "Transport",
    "handler",
]
