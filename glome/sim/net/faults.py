"""What a fault is (``Fault``, ``NemesisContext``), and the crash-restart and pause faults:
``--nemesis kill`` and ``--nemesis pause``.

Maelstrom itself only partitions (``glome.sim.net.nemesis``); kill and pause follow Jepsen's
combined nemesis (``jepsen.nemesis.combined``, the db package) in naming and history shape.
Both are listed in ``glome.sim.net.nemesis.FAULTS`` and are driven by the same ``Nemesis`` schedule
as partitions (each tick toggles one enabled fault, so ``--nemesis partition,kill`` interleaves
them).

kill: each start picks a target set and kills those nodes abruptly; the matching stop restarts
them and sends each a fresh ``init`` (from a new client, 10 s, as at test start):

- in-process, a killed node's object is dropped (its serve task cancelled) and the restart builds
  a fresh object with the same state directory, ``<store>/state/<id>``;
- as processes, the process (and its process group) gets SIGKILL and the restart launches the
  binary again in the same working directory, also ``<store>/state/<id>``.

Either way only what the node wrote to its state directory survives. While a node is down its
endpoint is unregistered: messages to it (client requests included) are journaled as
undelivered, so in-flight client requests time out and complete as ``:info`` (or ``:fail`` for an
idempotent ``:f``). A node that cannot be restarted or does not answer the new ``init`` aborts
the test, as a node that fails to start does.

pause: each start sends SIGSTOP to the target set, the stop SIGCONT. In-process, a paused node is
frozen the same way: none of its timers fire and none of its code runs, and messages to it wait
(journaled as delivered, as bytes waiting in a stopped process's pipe) until the resume, when the
overdue timers fire and the held messages are handed over in order. A host that cannot pause
aborts the run with an error saying so.

Targets (drawn from the nemesis stream): a shape chosen uniformly from ``one`` (a random
node), ``minority`` (majority - 1 nodes, Jepsen's ``:minority``), ``majority`` and ``all``,
skipping shapes that would select no node; the nodes are recorded in node order.

History (process ``:nemesis``, both halves ``:info``)::

    {:f :kill,   :value ["n1" "n3"]}  then  {:f :kill,   :value {"n1" :killed, "n3" :killed}}
    {:f :start,  :value ["n1" "n3"]}  then  {:f :start,  :value {"n1" :started, "n3" :started}}
    {:f :pause,  :value ["n2"]}       then  {:f :pause,  :value {"n2" :paused}}
    {:f :resume, :value ["n2"]}       then  {:f :resume, :value {"n2" :resumed}}

The invoke value is the explicit node list (one of Jepsen's node-spec forms) and the completion a
map node -> outcome, as Jepsen's db nemesis returns. At the end of the main phase (workloads with
a final phase) ``Nemesis.final`` stops every fault: killed nodes are restarted and paused ones
resumed; a fault with nothing to undo records ``{:f :start, :value []}`` / ``{}``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, ClassVar

from glome.edn import Keyword, Str
from glome.errors import NodeStartError, RPCError, RPCTimeout
from glome.sim.hosts import NodeHost
from glome.sim.net.network import Network

TARGET_SHAPES = ("one", "minority", "majority", "all")


class NemesisContext:
    """What a fault may touch."""

    def __init__(
        self,
        *,
        network: Network,
        host: NodeHost | None,
        node_ids: list[str],
        rng: random.Random,
        reinit: Callable[[str], Any] | None = None,
    ) -> None:
        self.network = network
        self.host = host
        self.node_ids = list(node_ids)
        self.rng = rng
        self.reinit = reinit
        """``await reinit(node_id)``: send init to a restarted node (for kill/restart faults)."""


class Fault:
    """One kind of fault. ``start`` and ``stop`` return (f, invoke value, completion value)."""

    name: ClassVar[str] = ""

    def __init__(self, ctx: NemesisContext) -> None:
        self.ctx = ctx
        self.active = False

    def start_invoke(self) -> tuple[str, Any]:
        """The ``:f`` and invoke value of the next start (draws its randomness)."""
        raise NotImplementedError

    async def start(self, invoke_value: Any) -> Any:
        """Inflict the fault; return the completion value."""
        raise NotImplementedError

    def stop_invoke(self) -> tuple[str, Any]:
        raise NotImplementedError

    async def stop(self) -> Any:
        raise NotImplementedError


def target_size(shape: str, node_count: int) -> int:
    """How many nodes a shape selects out of ``node_count``."""
    majority = node_count // 2 + 1
    sizes = {"one": 1, "minority": majority - 1, "majority": majority, "all": node_count}
    if shape not in sizes:
        raise ValueError(f"unknown target shape {shape!r}; one of {TARGET_SHAPES}")
    return min(sizes[shape], node_count)


def pick_targets(ctx: NemesisContext) -> list[str]:
    """A random non-empty target set, in node order."""
    nodes = ctx.node_ids
    shapes = [s for s in TARGET_SHAPES if target_size(s, len(nodes)) > 0]
    shape = ctx.rng.choice(shapes)
    chosen = set(ctx.rng.sample(nodes, target_size(shape, len(nodes))))
    return [n for n in nodes if n in chosen]


def outcome_map(nodes: list[str], outcome: str) -> dict[Str, Keyword]:
    """``{"n1" :killed ...}``; ``Str`` keeps node ids strings in EDN."""
    return {Str(n): Keyword(outcome) for n in nodes}


class _NodeFault(Fault):
    """A fault inflicted on a set of nodes and undone on the same set."""

    start_f: ClassVar[str] = ""
    stop_f: ClassVar[str] = ""

    def __init__(self, ctx: NemesisContext) -> None:
        super().__init__(ctx)
        self.targets: list[str] = []

    def _host(self) -> Any:
        if self.ctx.host is None:
            raise RuntimeError(f"--nemesis {self.name} needs a node host")
        return self.ctx.host

    def start_invoke(self) -> tuple[str, Any]:
        self.targets = pick_targets(self.ctx)
        return self.start_f, list(self.targets)

    def stop_invoke(self) -> tuple[str, Any]:
        return self.stop_f, list(self.targets)


class KillFault(_NodeFault):
    """``kill`` / ``start``: crash nodes, later restart them with their state directories."""

    name = "kill"
    start_f = "kill"
    stop_f = "start"

    async def start(self, invoke_value: Any) -> Any:
        host = self._host()
        for node in invoke_value:
            await host.kill(node)
        return outcome_map(list(invoke_value), "killed")

    async def stop(self) -> Any:
        host, nodes = self._host(), list(self.targets)
        self.targets = []
        for node in nodes:
            try:
                await host.restart(node)
            except Exception as e:
                raise NodeStartError(
                    f"could not restart {node} after a kill: {type(e).__name__}: {e}"
                ) from e
        if self.ctx.reinit is not None:
            outcomes = await asyncio.gather(
                *(self._reinit(n) for n in nodes), return_exceptions=True
            )
            for outcome in outcomes:  # the first failure in node order, deterministically
                if isinstance(outcome, BaseException):
                    raise outcome
        return outcome_map(nodes, "started")

    async def _reinit(self, node: str) -> None:
        assert self.ctx.reinit is not None
        try:
            await self.ctx.reinit(node)
        except RPCTimeout:
            raise NodeStartError(
                f"{node} did not answer init within 10 s after its restart"
            ) from None
        except RPCError as e:
            raise NodeStartError(
                f"{node} answered init after its restart with an error: {e.body}"
            ) from None


class PauseFault(_NodeFault):
    """``pause`` / ``resume``: SIGSTOP and SIGCONT, or an in-process node frozen and thawed."""

    name = "pause"
    start_f = "pause"
    stop_f = "resume"

    async def start(self, invoke_value: Any) -> Any:
        host = self._host()
        for node in invoke_value:
            try:
                await host.pause(node)
            except NotImplementedError:
                raise ValueError(
                    f"--nemesis pause: this node host ({type(host).__name__}) cannot pause nodes"
                ) from None
        return outcome_map(list(invoke_value), "paused")

    async def stop(self) -> Any:
        host, nodes = self._host(), list(self.targets)
        self.targets = []
        for node in nodes:
            await host.resume(node)
        return outcome_map(nodes, "resumed")
