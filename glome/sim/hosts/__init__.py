"""NodeHost: how the runner starts, stops and faults the nodes under test.

Two implementations plug into the same runner:

- ``glome.sim.hosts.inproc.InProcessHost``: glome ``Node`` objects on the runner's (virtual-time)
  event loop, talking through ``MemoryTransport``;
- ``glome.sim.hosts.processes.ProcessHost``: any binary, one process per node, over pipes, in real time.

A host is constructed with the ``Network``, the store directory (each node's log lines go to
``<store>/node-logs/<id>.log``, durable state to ``<store>/state/<id>``) and the seed.

Contract:

- ``node_ids``: the test's node list, in order.
- ``await start(node_id)``: launch the node and register its endpoint on the network. It does
  **not** send ``init``; the runner does that from a fresh client.
- ``await kill(node_id)``: stop the node abruptly and unregister its endpoint (messages to it are
  journaled as undelivered).
- ``await restart(node_id)``: start it again with the same state directory (the caller sends
  ``init`` again).
- ``await pause(node_id)`` / ``await resume(node_id)``: SIGSTOP/SIGCONT for processes; in-process
  nodes are frozen (no timers, no handlers, messages held) until resumed. Hosts that cannot
  pause raise ``NotImplementedError``.
- ``await restart`` does not forget a crash: ``crashed()`` keeps reporting a node that died,
  even once the kill nemesis has started it again (the test aborts at teardown).
- ``await stop() -> list[str]``: teardown; returns problems, e.g. ``"n1 crashed with exit
  status 1 before teardown"``. Always returns within a bounded time.
- ``crashed() -> dict[str, str]``: nodes that died unexpectedly so far, with the reason.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Protocol, runtime_checkable

from glome.sim.net.network import Network


@runtime_checkable
class NodeHost(Protocol):
    node_ids: list[str]

    async def start(self, node_id: str) -> None: ...

    async def kill(self, node_id: str) -> None: ...

    async def restart(self, node_id: str) -> None: ...

    async def pause(self, node_id: str) -> None: ...

    async def resume(self, node_id: str) -> None: ...

    async def stop(self) -> list[str]: ...

    def crashed(self) -> dict[str, str]: ...


class HostFactory(Protocol):
    """What the runner calls to build a host once the network and store exist."""

    def __call__(
        self, *, node_ids: list[str], network: Network, store_dir: Path, seed: int
    ) -> NodeHost: ...


def node_seed(seed: int, index: int) -> int:
    """A node's seed, derived without hashing so it is the same in every interpreter."""
    return seed * 1_000_003 + index


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream for one part of the run (``"network"``, ``"nemesis"``...).

    The name is folded in byte by byte (no ``hash()``), so PYTHONHASHSEED cannot change it.
    """
    mix = seed & 0xFFFFFFFFFFFFFFFF
    for byte in name.encode():
        mix = (mix * 1_099_511_628_211 + byte) & 0xFFFFFFFFFFFFFFFF
    return random.Random(mix)
