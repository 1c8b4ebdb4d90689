"""The test lifecycle (docs/protocol.md#the-lifecycle-of-a-test), the same for in-process and
process nodes.

``run_test`` walks a ``_Test`` through its phases, one method each:

1. ``setup``: store directory and jepsen.log; the network, with its journal in memory; the
   four services; ``build_host``: the node host (one that cannot be built aborts the run);
2. ``init``: start every node (``NodeHost.start``) and ``init`` each from a fresh client
   (10 s); a node that does not answer ``init_ok`` aborts the test, at once if it crashed
   meanwhile; then history time 0 and the workload's setup (broadcast's ``topology``);
3. ``main``: the workers on the global schedule, the nemesis alongside, cut at the time limit;
4. ``final`` (workloads that have one): heal, "Waiting for recovery...", the recovery sleep,
   the final ops;
5. ``teardown``, the only way a run ends, whatever happened before: ``NodeHost.stop`` (a node
   that died before teardown aborts the test), services, network (undelivered messages
   journaled); the journal's bytes go to the store;
6. ``analyse``: history files and pictures, then (unless the run aborted) the checkers
   (``glome.sim.checkers.compose``, pure) over the history and the journal's records, into
   ``results.edn``, the results and Maelstrom's verdict line.

``run_test`` is a coroutine written against the running loop's clock: on a
``VirtualTimeLoop`` it is the deterministic in-process simulator, on a normal loop it runs in
real time. Exit codes as Maelstrom's: 0 valid, 1 invalid, 2 unknown, 255 aborted.

Nothing hangs: every RPC has a timeout; in-process, a node that keeps the loop busy without
letting virtual time pass is wound down after ``wall_budget`` real seconds (the run aborts,
saying so), and node code that never returns to the loop is interrupted by
``run_virtual``'s watchdog; process hosts bound their own waits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import glome
from glome.edn import UNKNOWN, Keyword, dumps
from glome.errors import NodeCrashed, NodeStartError, RPCError, RunnerError
from glome.protocol import is_client
from glome.sim.checkers import compose
from glome.sim.checkers.net import journal_records
from glome.sim.explain import failing_reasons
from glome.sim.history import History
from glome.sim.hosts import NodeHost, stream
from glome.sim.hosts.vclock import VirtualTimeLoop
from glome.sim.net.nemesis import Nemesis, NemesisContext, parse_faults
from glome.sim.net.network import Network
from glome.sim.net.processing import Processing
from glome.sim.net.services import SERVICE_IDS, start_services
from glome.sim.options import TestOptions
from glome.sim.render.lamport_svg import write_messages_svg
from glome.sim.render.store import HOST_LOGGER, HostNotices, Store, pretty_results, verdict_line
from glome.sim.render.timeline import write_timeline
from glome.sim.workloads import get as get_workload
from glome.sim.workloads.client import Clients, ClientTimeout
from glome.sim.workloads.generator import RunContext, SetupContext, Worker, final_phase, main_phase

log = logging.getLogger("glome.sim.runner")

INIT_TIMEOUT = 10.0
INIT_CRASH_POLL = 0.05
"""Seconds between looks at ``host.crashed()`` while nodes owe their ``init_ok``."""
UNDELIVERABLE_LOGGED = 100
"""Messages to unregistered endpoints logged one by one in jepsen.log; the rest are counted."""
EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN, EXIT_BAD_ARGS, EXIT_CRASH = 0, 1, 2, 254, 255

FORWARDED_LOG_LINES = 1000
"""Records of the host's own logger copied into jepsen.log per run; the rest are counted."""

HostBuilder = Callable[..., NodeHost]
"""``builder(node_ids=, network=, store_dir=, seed=, on_log_line=)`` -> a NodeHost."""


@dataclass
class RunResult:
    """What a run produced. ``valid`` is True, False, ``:unknown``, or None if it aborted."""

    results: dict[str, Any] | None
    history: list[dict[str, Any]]
    store_path: Path
    valid: bool | Keyword | None
    exit_code: int
    opts: TestOptions
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    """Why the run aborted at teardown (nodes that crashed), if it did."""
    warnings: list[str] = field(default_factory=list)
    """Non-fatal trouble the host saw (bad output lines, undelivered messages...)."""
    wall_seconds: float = 0.0
    sim_seconds: float = 0.0
    host: Any = None

    @property
    def aborted(self) -> bool:
        return self.error is not None

    def __repr__(self) -> str:
        state = f"error={self.error!r}" if self.error else f"valid={self.valid!r}"
        return (
            f"RunResult({self.opts.workload}, {state}, ops={len(self.history)}, "
            f"store={str(self.store_path)!r})"
        )


def exit_code_for(valid: Any) -> int:
    if valid is True:
        return EXIT_VALID
    if valid is False:
        return EXIT_INVALID
    return EXIT_UNKNOWN


class _Aborted(RunnerError):
    """The run cannot go on (init failure, setup failure)."""


async def _init_nodes(host: NodeHost, clients: Clients, node_ids: list[str], store: Store) -> None:
    for nid in node_ids:
        store.log(f"Setting up {nid}", thread=f"jepsen node {nid}", logger="maelstrom.db")
        await host.start(nid)
    pairs = [(nid, clients.open()) for nid in node_ids]

    async def init(nid: str, client: Any) -> None:
        body = {"type": "init", "node_id": nid, "node_ids": list(node_ids)}
        try:
            reply = await client.rpc(nid, body, INIT_TIMEOUT)
        except ClientTimeout:
            raise NodeStartError(
                f"Expected node {nid} to respond to an init message, but node "
                f"did not respond within {INIT_TIMEOUT:g} s."
            ) from None
        except RPCError as e:
            raise NodeStartError(
                f"Expected node {nid} to respond to an init message with "
                f"init_ok, but it answered with an error: {e.body}"
            ) from None
        finally:
            client.close()
        if reply.get("type") != "init_ok":
            raise NodeStartError(
                f"Expected node {nid} to respond to an init message with "
                f"init_ok, but it answered {reply}"
            )

    waiting = set(node_ids)

    async def init_and_note(nid: str, client: Any) -> None:
        try:
            await init(nid, client)
        finally:
            waiting.discard(nid)

    inits: asyncio.Future[list[Any]] = asyncio.gather(
        *(init_and_note(n, c) for n, c in pairs), return_exceptions=True
    )
    watch: asyncio.Future[Any] = asyncio.ensure_future(_watch_init_crashes(host, node_ids, waiting))
    try:
        await asyncio.wait([inits, watch], return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not inits.done():  # a node died before answering (or the run was cancelled)
            inits.cancel()
    watch_error = watch.exception() if watch.done() and not watch.cancelled() else None
    if not inits.done() or inits.cancelled():
        await asyncio.gather(inits, return_exceptions=True)
        raise watch_error or RunnerError("init was interrupted")
    for outcome in inits.result():  # the first failure in node order, deterministically
        if isinstance(outcome, BaseException):
            raise outcome


async def _watch_init_crashes(host: NodeHost, node_ids: list[str], waiting: set[str]) -> None:
    """Return (raising NodeStartError) as soon as a node still owing init_ok has crashed."""
    while True:
        crashed = host.crashed()
        for nid in node_ids:  # node order: the same node is named whatever the timing
            if nid in waiting and nid in crashed:
                raise NodeStartError(
                    f"Expected node {nid} to respond to an init message, but it crashed: "
                    f"{crashed[nid]}"
                )
        await asyncio.sleep(INIT_CRASH_POLL)


async def _progress(loop: asyncio.AbstractEventLoop, start: float, total: float) -> None:
    """A tqdm bar over the main phase (real-time runs only)."""
    from tqdm import tqdm

    with tqdm(total=round(total), unit="s", desc="main phase", leave=False) as bar:
        shown = 0
        while shown < round(total):
            await asyncio.sleep(1.0)
            now = min(round(loop.time() - start), round(total))
            bar.update(now - shown)
            shown = now


def _processing(
    opts: TestOptions, loop: asyncio.AbstractEventLoop, virtual: bool
) -> Processing | None:
    """Single servers for nodes and services on the virtual clock (``glome.sim.net.processing``);
    None when messages cost nothing, or in real time, where processes pay their own costs."""
    spec = opts.processing
    if not (virtual and spec.enabled):
        return None
    return Processing(spec, loop, stream(opts.seed, "processing"), served=_is_server)


def _is_server(endpoint_id: str) -> bool:
    return not is_client(endpoint_id)


async def run_test(
    opts: TestOptions,
    host_builder: HostBuilder,
    *,
    store_root: str | os.PathLike[str] = "store",
    argv: list[str] | None = None,
    description: dict[str, Any] | None = None,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
    wall_budget: float | None = None,
) -> RunResult:
    """Run one test on the running loop, phase by phase. ``echo`` receives the console lines.

    ``wall_budget`` (virtual-time loops only): real seconds after which a run that has not
    finished is wound down and aborted (see ``VirtualTimeLoop``); None means no limit.
    """
    test = _Test(opts, echo=echo, progress=progress)
    test.setup(store_root, argv, description)
    try:
        test.build_host(host_builder)
        if test.error is None:
            await test.run_phases(wall_budget)
    finally:
        await test.teardown()
    return test.analyse()


class _Test:
    """One test's state, built up phase by phase; each method is one step of the module
    docstring. ``error`` (why the run aborted) is set by whichever phase fails."""

    def __init__(
        self, opts: TestOptions, *, echo: Callable[[str], None] | None, progress: bool
    ) -> None:
        self.opts = opts
        self.echo = echo
        self.progress = progress
        self.loop = asyncio.get_running_loop()
        self.virtual = isinstance(self.loop, VirtualTimeLoop)
        self.wall_begin = time.perf_counter()
        self.loop_begin = self.loop.time()
        self.workload = get_workload(opts.workload)
        self.workload.validate(opts)
        self.faults = parse_faults(opts.nemesis)
        self.journal = io.BytesIO()
        """The network's journal, in memory: written to the store and read by the checkers."""
        self.host: NodeHost | None = None
        self.error: str | None = None
        self.problems: list[str] = []
        """Nodes that crashed, as the host reports at teardown (they abort the run)."""
        self.warnings: list[str] = []
        self.undeliverable = 0

    # ------------------------------------------------------------------------- 1. setup
    def setup(
        self,
        store_root: str | os.PathLike[str],
        argv: list[str] | None,
        description: dict[str, Any] | None,
    ) -> None:
        """The store and jepsen.log, the history, the network with its journal, the services."""
        opts = self.opts
        started = dt.datetime.now().astimezone()
        self.store = store = Store(
            store_root,
            self.workload.name,
            started=started,
            wall_clock=self._virtual_wall_clock(started) if self.virtual else None,
        )
        store.log(f"Test version glome {glome.__version__}")
        store.log("Command line:\n" + " ".join(argv if argv is not None else ["glome.sim.run"]))
        test_map = {**opts.to_json(), "glome": description or {}}
        store.log("Running test:\n" + dumps(test_map))
        store.write_test({**test_map, "start-time": started.isoformat()})
        self.history = History(self.loop, on_op=store.log_op)
        self.network = Network(
            self.loop,
            latency_ms=opts.latency,
            latency_dist=opts.latency_dist,
            rng=stream(opts.seed, "network"),
            journal=self.journal,
            on_undeliverable=self._note_undeliverable,
            processing=_processing(opts, self.loop, self.virtual),
        )
        store.log(
            "Starting services: (" + " ".join(SERVICE_IDS) + ")",
            thread="jepsen node " + opts.node_ids[0],
            logger="maelstrom.service",
        )
        self.services = start_services(
            self.network,
            stream(opts.seed, "services"),
            lww_converge=getattr(opts, "lww_converge", False),
            on_log=lambda text: store.log(text, logger="maelstrom.service", level="WARN"),
        )
        self.clients = Clients(self.network)
        self.forward = HostNotices(store, FORWARDED_LOG_LINES, self.echo)
        logging.getLogger(HOST_LOGGER).addHandler(self.forward)

    def _virtual_wall_clock(self, started: dt.datetime) -> Callable[[], float]:
        """jepsen.log's clock on a virtual loop: the start time plus the virtual time."""
        started_posix = started.timestamp()
        return lambda: started_posix + (self.loop.time() - self.loop_begin)

    def _note_undeliverable(self, text: str) -> None:
        # Usually a late reply to a client that timed out and was closed. Maelstrom would stop
        # routing that node's output altogether (docs/protocol.md#envelope); glome drops just the
        # message.
        self.undeliverable += 1
        if self.undeliverable <= UNDELIVERABLE_LOGGED:
            self.store.log(text, thread="jepsen net", logger="maelstrom.net", level="WARN")

    def build_host(self, host_builder: HostBuilder) -> None:
        """The node host (nodes are started in ``init``). A host that cannot be built (e.g. a
        ``--bin`` that does not exist) aborts the run; a bug in the builder raises."""
        try:
            self.host = host_builder(
                node_ids=list(self.opts.node_ids),
                network=self.network,
                store_dir=self.store.path,
                seed=self.opts.seed,
                on_log_line=self._node_line if self.opts.log_stderr else None,
            )
        except (RunnerError, OSError, ValueError) as e:
            self.error = str(e)

    def _node_line(self, node_id: str, line: str) -> None:
        self.store.log(line, thread=f"{node_id} stderr", logger="maelstrom.process")
        if self.echo is not None:
            self.echo(f"{node_id} stderr: {line}")

    # --------------------------------------------------------------- 2 to 5: the phases
    async def run_phases(self, wall_budget: float | None) -> None:
        """init, main and final, as one task; any failure becomes ``error``.

        On a virtual loop with a ``wall_budget``, the task is cancelled when the budget runs
        out (a node that keeps the loop busy without letting virtual time pass)."""
        task = self.loop.create_task(self._phases(), name="glome-run")
        overrun: list[str] = []
        if isinstance(self.loop, VirtualTimeLoop) and wall_budget is not None:

            def on_overrun() -> None:
                overrun.append(
                    f"the in-process run used up its wall-clock budget of {wall_budget:g} s at "
                    f"virtual time {self.loop.time() - self.history.origin:.3f} s: a node keeps "
                    "the event loop busy without letting virtual time pass (for example a loop "
                    "around `await asyncio.sleep(0)`)"
                )
                task.cancel()

            self.loop.set_wall_budget(wall_budget, on_overrun)
        try:
            await task
        except asyncio.CancelledError:
            if not overrun:
                raise
            self.error = overrun[0]
        except (RunnerError, ValueError) as e:
            self.error = str(e)
        except Exception as e:  # a bug in glome or a workload: abort with the traceback
            self.error = f"{type(e).__name__}: {e}"
            self.store.log(f"run failed\n{traceback.format_exc()}", level="WARN")

    async def _phases(self) -> None:
        await self.init()
        await self.main()
        if self.workload.has_final_phase:
            await self.final()

    async def init(self) -> None:
        """Start and ``init`` every node; time 0 of the history; the workload's setup."""
        assert self.host is not None
        await _init_nodes(self.host, self.clients, list(self.opts.node_ids), self.store)
        self.history.start_clock()
        self.network.set_origin(self.history.origin)
        self.context = RunContext(
            loop=self.loop,
            opts=self.opts,
            workload=self.workload,
            history=self.history,
            clients=self.clients,
            rng=stream(self.opts.seed, "generator"),
        )
        try:
            await self.workload.setup(SetupContext(self.context))
        except Exception as e:
            raise _Aborted(f"client setup failed: {type(e).__name__}: {e}") from e

    async def main(self) -> None:
        """The workers on the global schedule and the nemesis alongside, to the time limit."""
        opts = self.opts
        self.nemesis = Nemesis(
            NemesisContext(
                network=self.network,
                host=self.host,
                node_ids=list(opts.node_ids),
                rng=stream(opts.seed, "nemesis"),
                reinit=self._reinit,
            ),
            self.history,
            self.faults,
            opts.nemesis_interval,
        )
        self.network.heal()
        self.workers = [Worker(self.context, i) for i in range(opts.worker_count)]
        deadline = self.loop.time() + opts.time_limit
        bar = (
            self.loop.create_task(_progress(self.loop, self.loop.time(), opts.time_limit))
            if self.progress and not self.virtual and opts.time_limit >= 1
            else None
        )
        try:
            await asyncio.gather(
                main_phase(self.context, self.workers, deadline), self.nemesis.run(deadline)
            )
        finally:
            if bar is not None:
                bar.cancel()

    async def _reinit(self, node_id: str) -> None:
        """A fresh ``init`` for a node restarted by the nemesis."""
        client = self.clients.open()
        try:
            body = {"type": "init", "node_id": node_id, "node_ids": list(self.opts.node_ids)}
            await client.rpc(node_id, body, INIT_TIMEOUT)
        finally:
            client.close()

    async def final(self) -> None:
        """Heal, "Waiting for recovery...", the recovery sleep, the workers' final ops."""
        if self.faults:
            await self.nemesis.final()
        self.store.log(
            "Waiting for recovery...",
            thread="jepsen worker 0",
            logger="jepsen.generator.interpreter",
        )
        await asyncio.sleep(self.opts.recovery_time)
        await final_phase(self.context, self.workers)

    # ---------------------------------------------------------------------- 6. teardown
    async def teardown(self) -> None:
        """The one way a run ends, whatever happened before: stop the nodes (a node that died
        aborts the test), the services and the network; write the journal."""
        store, node_ids = self.store, self.opts.node_ids
        if self.host is None:
            self.forward.finish()
        else:
            store.log("Run complete, writing")
            for nid in node_ids:
                store.log(f"Tearing down {nid}", thread=f"jepsen node {nid}", logger="maelstrom.db")
            try:
                self.problems = await self.host.stop()
            finally:
                self.forward.finish()
            self._log_host_problems()
        for service in self.services:
            service.close()
        if self.host is not None:
            store.log(
                "Shutting down Maelstrom network",
                thread=f"jepsen node {node_ids[0]}",
                logger="maelstrom.net",
            )
        self.network.close()
        store.write_journal(self.journal.getvalue())
        if self.undeliverable > UNDELIVERABLE_LOGGED:
            store.log(
                f"{self.undeliverable} messages in all were sent to endpoints that were not "
                f"registered (only the first {UNDELIVERABLE_LOGGED} are logged)",
                logger="maelstrom.net",
                level="WARN",
            )
        if isinstance(self.loop, VirtualTimeLoop):  # node code is done: analysis may take time
            self.loop.set_wall_budget(None)
            self.loop.watchdog_armed = False

    def _log_host_problems(self) -> None:
        """Non-fatal trouble the host saw (bad output lines...), as warnings in jepsen.log."""
        report = getattr(self.host, "problems", None)
        if not callable(report):
            return
        for node_id, lines in sorted(report().items()):
            for line in lines:
                self.warnings.append(line)
                self.store.log(
                    line, thread=f"jepsen node {node_id}", logger="glome.host", level="WARN"
                )

    # ----------------------------------------------------------------------- 7. analysis
    def analyse(self) -> RunResult:
        """The history files and pictures; then, unless the run aborted, the checkers over the
        history and the journal, results.edn and the verdict."""
        store, history, echo = self.store, self.history, self.echo
        if self.error is None and self.problems:
            self.error = NodeCrashed("; ".join(self.problems)).args[0]
        store.write_history(history.ops)
        if self.host is not None:
            write_timeline(store, history.ops)
        # Parsed after the timeline, so the garbage collector does not walk the records
        # while the timeline is drawn; read line by line (bytes.splitlines tests every byte).
        self.journal.seek(0)
        journal = list(journal_records(self.journal))
        if self.host is not None:
            write_messages_svg(store, journal)
        result = RunResult(
            results=None,
            history=history.ops,
            store_path=store.path,
            valid=None,
            exit_code=EXIT_CRASH,
            opts=self.opts,
            error=self.error,
            problems=self.problems,
            warnings=self.warnings,
            sim_seconds=self.loop.time() - self.loop_begin,
            host=self.host,
        )
        if echo is not None:
            for line in self.warnings:
                echo(f"glome: warning: {line}")
        if self.error is not None:
            store.log(f"Test aborted: {self.error}", level="WARN")
            store.close()
            result.wall_seconds = time.perf_counter() - self.wall_begin
            if echo is not None:
                echo(f"Test aborted: {self.error}")
            return result

        store.log("Analyzing...")
        results = compose.check(
            history.ops,
            self.opts,
            workload=functools.partial(self.workload.check, store_dir=store.path),
            journal=journal,
        )
        store.log("Analysis complete")
        store.write_results(results)
        valid = results.get("valid?", UNKNOWN)
        summary = pretty_results(results)
        store.log(summary.rstrip("\n"))
        store.log_raw("\n\n" + verdict_line(valid))
        store.close()
        result.results, result.valid = results, valid
        result.exit_code = exit_code_for(valid)
        result.wall_seconds = time.perf_counter() - self.wall_begin
        if echo is not None:
            echo(summary)
            echo("")
            echo(verdict_line(valid))
            for reason in failing_reasons(results):
                echo(f"  {reason}")
        return result
