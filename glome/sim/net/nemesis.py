"""The nemesis: faults on a schedule, recorded as ``:nemesis`` ops (docs/protocol.md#the-nemesis).

Schedule (Jepsen's stagger): the first op at once, each next one U[0, 2 x interval) seconds
after the previous, until the time limit. Every op is a pair of ``:info`` ops with process
``:nemesis``: the invoke (what is about to happen) and the completion (what happened).

Faults are pluggable: ``FAULTS`` maps a ``--nemesis`` name to a ``Fault`` class (the interface,
and the kill and pause faults, are in ``glome.sim.net.faults``). At each tick
one enabled fault is chosen (uniformly) and toggled: started if it is not active, stopped if it
is. With one fault this is Maelstrom's strict alternation start, stop, start, ... ``final()``
stops every fault at the end of the main phase (Maelstrom's final ``stop-partition``), for
workloads with a final phase.

``partition``: each start picks a shape uniformly from ``:one``, ``:minority-third``,
``:majority``, ``:majorities-ring`` and computes a grudge (receiver -> senders dropped):

- ``:one``: one random node isolated from all others;
- ``:majority``: shuffle, split into floor(N/2) and the rest, complete cut;
- ``:minority-third``: floor((N-1)/3) random nodes cut off from the rest (no-op for N <= 3);
- ``:majorities-ring``: shuffle into a ring; each node sees the majority window of the ring
  centred on itself and drops everyone else, so every node sees a majority and no two see the
  same one (Jepsen's exact ring; Jepsen switches to a randomised construction above 5 nodes,
  glome keeps the ring, which has the same property).

History: ``{:f :start-partition :value :majority}`` then ``{... :value [:isolated {"n2" #{"n0"
..} ..}]}``; ``{:f :stop-partition :value nil}`` then ``{... :value :network-healed}``.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from glome.edn import Keyword, Str
from glome.sim.history import History
from glome.sim.net.faults import Fault, KillFault, NemesisContext, PauseFault
from glome.sim.workloads.generator import Stagger, sleep_until

Grudge = dict[str, set[str]]

PARTITION_SHAPES = ("one", "minority-third", "majority", "majorities-ring")


def complete_grudge(components: list[list[str]]) -> Grudge:
    """Every node drops messages from every node outside its own component."""
    everyone = [n for comp in components for n in comp]
    grudge: Grudge = {}
    for comp in components:
        inside = set(comp)
        for node in comp:
            grudge[node] = {n for n in everyone if n not in inside}
    return grudge


def majorities_ring(nodes: list[str], rng: random.Random) -> Grudge:
    n = len(nodes)
    ring = list(nodes)
    rng.shuffle(ring)
    majority = n // 2 + 1
    grudge: Grudge = {}
    for i, node in enumerate(ring):
        # The window of `majority` consecutive ring positions centred on i.
        start = i - (majority - 1) // 2
        window = {ring[(start + k) % n] for k in range(majority)}
        grudge[node] = {other for other in nodes if other not in window}
    return grudge


def partition_grudge(shape: str, nodes: list[str], rng: random.Random) -> Grudge:
    """The grudge for one partition shape (see the module docstring)."""
    nodes = list(nodes)
    if shape == "one":
        loner = rng.choice(nodes)
        return complete_grudge([[loner], [n for n in nodes if n != loner]])
    if shape == "majority":
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        half = len(shuffled) // 2
        return complete_grudge([shuffled[:half], shuffled[half:]])
    if shape == "minority-third":
        shuffled = list(nodes)
        rng.shuffle(shuffled)
        third = (len(shuffled) - 1) // 3
        return complete_grudge([shuffled[:third], shuffled[third:]])
    if shape == "majorities-ring":
        return majorities_ring(nodes, rng)
    raise ValueError(f"unknown partition shape {shape!r}")


def grudge_value(grudge: Grudge, nodes: list[str]) -> list[Any]:
    """``[:isolated {"n2" #{"n0" ..} ..}]`` with string keys, in node order."""
    return [Keyword("isolated"), {Str(n): set(grudge[n]) for n in nodes if n in grudge}]


class PartitionFault(Fault):
    name = "partition"

    def start_invoke(self) -> tuple[str, Any]:
        return "start-partition", Keyword(self.ctx.rng.choice(PARTITION_SHAPES))

    async def start(self, invoke_value: Any) -> Any:
        grudge = partition_grudge(str(invoke_value), self.ctx.node_ids, self.ctx.rng)
        self.ctx.network.partition(grudge)
        return grudge_value(grudge, self.ctx.node_ids)

    def stop_invoke(self) -> tuple[str, Any]:
        return "stop-partition", None

    async def stop(self) -> Any:
        self.ctx.network.heal()
        return Keyword("network-healed")


FAULTS: dict[str, type[Fault]] = {
    PartitionFault.name: PartitionFault,
    KillFault.name: KillFault,
    PauseFault.name: PauseFault,
}
"""``--nemesis`` names glome knows (kill and pause are in ``glome.sim.net.faults``). Other fault
kinds register here."""


def parse_faults(names: list[str] | tuple[str, ...]) -> list[str]:
    """Validate ``--nemesis`` names (ValueError for unknown ones), keeping their order."""
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name not in FAULTS:
            known = ", ".join(sorted(FAULTS))
            raise ValueError(f"unknown nemesis fault {name!r}; glome knows: {known}")
        if name not in out:
            out.append(name)
    return out


class Nemesis:
    """Drives the enabled faults on the stagger schedule and records their ops."""

    def __init__(
        self, ctx: NemesisContext, history: History, faults: list[str], interval: float
    ) -> None:
        self.ctx = ctx
        self.history = history
        self.faults = [FAULTS[name](ctx) for name in parse_faults(faults)]
        self.interval = interval

    async def _toggle(self, fault: Fault) -> None:
        if fault.active:
            f, value = fault.stop_invoke()
            self.history.append("info", "nemesis", f, value)
            result = await fault.stop()
            fault.active = False
        else:
            f, value = fault.start_invoke()
            self.history.append("info", "nemesis", f, value)
            result = await fault.start(value)
            fault.active = True
        self.history.append("info", "nemesis", f, result)

    async def run(self, deadline: float) -> None:
        """Inflict faults until ``deadline`` (loop time)."""
        if not self.faults:
            return
        loop = asyncio.get_running_loop()
        stagger = Stagger(loop, self.interval, self.ctx.rng)
        while True:
            slot = stagger.reserve()
            if slot >= deadline:
                return
            await sleep_until(loop, slot)
            fault = self.faults[0] if len(self.faults) == 1 else self.ctx.rng.choice(self.faults)
            await self._toggle(fault)

    async def final(self) -> None:
        """Stop every fault (always recorded, as Maelstrom's final ``stop-partition``)."""
        for fault in self.faults:
            f, value = fault.stop_invoke()
            self.history.append("info", "nemesis", f, value)
            result = await fault.stop()
            fault.active = False
            self.history.append("info", "nemesis", f, result)
