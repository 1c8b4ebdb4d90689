"""The test lifecycle (spec 5.3), the same for in-process and process nodes.

1. store directory and jepsen.log; network (with its journal) and the four services;
2. start every node (``NodeHost.start``) and ``init`` each from a fresh client (10 s); a node
   that does not answer ``init_ok`` aborts the test, at once if it crashed meanwhile;
3. relative clock origin (history time 0); workload setup (broadcast's ``topology``);
4. main phase: the workers on the global schedule, the nemesis alongside, cut at the time limit;
5. final phase (workloads that have one): heal, "Waiting for recovery...", the recovery sleep,
   the final ops;
6. teardown: ``NodeHost.stop`` (a node that died before teardown aborts the test), services,
   network (undelivered messages journaled);
7. history files, then analysis (``glome.sim.checkers.compose``) into ``results.edn``, the
   results and Maelstrom's verdict line.

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
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import glome
from glome.edn import UNKNOWN, Keyword, dumps
from glome.errors import NodeCrashed, NodeStartError, RPCError, RunnerError
from glome.sim.checkers import compose
from glome.sim.checkers.net import read_journal
from glome.sim.client import Clients, ClientTimeout
from glome.sim.explain import failing_reasons
from glome.sim.generator import RunContext, SetupContext, Worker, final_phase, main_phase
from glome.sim.history import History
from glome.sim.hosts import NodeHost, stream
from glome.sim.lamport_svg import write_messages_svg
from glome.sim.nemesis import Nemesis, NemesisContext, parse_faults
from glome.sim.network import Network
from glome.sim.options import TestOptions
from glome.sim.processing import Processing
from glome.sim.services import SERVICE_IDS, start_services
from glome.sim.store import Store, pretty_results, verdict_line
from glome.sim.timeline import write_timeline
from glome.sim.vclock import VirtualTimeLoop
from glome.sim.workloads import get as get_workload

log = logging.getLogger("glome.sim.runner")

INIT_TIMEOUT = 10.0
INIT_CRASH_POLL = 0.05
"""Seconds between looks at ``host.crashed()`` while nodes owe their ``init_ok``."""
UNDELIVERABLE_LOGGED = 100
"""Messages to unregistered endpoints logged one by one in jepsen.log; the rest are counted."""
EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN, EXIT_BAD_ARGS, EXIT_CRASH = 0, 1, 2, 254, 255

FORWARDED_LOG_LINES = 1000
"""Records of the host's own logger copied into jepsen.log per run; the rest are counted."""
HOST_LOGGER = "glome.sim.processes"

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


class _ForwardToStore(logging.Handler):
    """Copies the process host's live notices (bad lines with excerpts, a crash, throttling,
    a stalled stdin) into jepsen.log as they happen, up to ``limit`` records.

    Only records emitted on the run's own thread are taken, so two runs in one interpreter
    (a notebook's helper threads) do not write into each other's logs.
    """

    def __init__(self, store: Store, limit: int, echo: Callable[[str], None] | None) -> None:
        super().__init__(level=logging.WARNING)
        self.store = store
        self.limit = limit
        self.echo = echo
        self.thread = threading.get_ident()
        self.seen = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        self.seen += 1
        if self.seen > self.limit:
            return
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not break the run
            text = str(record.msg)
        self.store.log(text, thread="glome host", logger=record.name, level=record.levelname)
        if self.echo is not None:
            self.echo(f"glome: {record.levelname.lower()}: {text}")

    def finish(self) -> None:
        """Detach; note how many records went past the limit."""
        logging.getLogger(HOST_LOGGER).removeHandler(self)
        if self.seen > self.limit:
            self.store.log(
                f"{self.seen - self.limit} more notices from the node host were not logged "
                f"(only the first {self.limit} are)",
                thread="glome host",
                logger=HOST_LOGGER,
                level="WARN",
            )


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
    """Single servers for nodes and services on the virtual clock (``glome.sim.processing``);
    None when messages cost nothing, or in real time, where processes pay their own costs."""
    spec = opts.processing
    if not (virtual and spec.enabled):
        return None
    return Processing(spec, loop, stream(opts.seed, "processing"), served=_is_server)


def _is_server(endpoint_id: str) -> bool:
    return not endpoint_id.startswith("c")


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
    """Run one test on the running loop. ``echo`` receives the console summary lines.

    ``wall_budget`` (virtual-time loops only): real seconds after which a run that has not
    finished is wound down and aborted (see ``VirtualTimeLoop``); None means no limit.
    """
    loop = asyncio.get_running_loop()
    wall_begin = time.perf_counter()
    loop_begin = loop.time()
    started = dt.datetime.now().astimezone()
    virtual = isinstance(loop, VirtualTimeLoop)

    started_posix = started.timestamp()

    def wall_clock() -> float:
        return started_posix + (loop.time() - loop_begin)

    workload = get_workload(opts.workload)
    workload.validate(opts)
    faults = parse_faults(opts.nemesis)
    store = Store(
        store_root, workload.name, started=started, wall_clock=wall_clock if virtual else None
    )
    store.log(f"Test version glome {glome.__version__}")
    store.log("Command line:\n" + " ".join(argv if argv is not None else ["glome.sim.run"]))
    test_map = {**opts.to_json(), "glome": description or {}}
    store.log("Running test:\n" + dumps(test_map))
    store.write_test({**test_map, "start-time": started.isoformat()})

    history = History(loop, on_op=store.log_op)
    undeliverable = [0]

    def note_undeliverable(text: str) -> None:
        # Usually a late reply to a client that timed out and was closed. Maelstrom would stop
        # routing that node's output altogether (spec 1.2); glome drops just the message.
        undeliverable[0] += 1
        if undeliverable[0] <= UNDELIVERABLE_LOGGED:
            store.log(text, thread="jepsen net", logger="maelstrom.net", level="WARN")

    network = Network(
        loop,
        latency_ms=opts.latency,
        latency_dist=opts.latency_dist,
        rng=stream(opts.seed, "network"),
        journal=store.journal,
        on_undeliverable=note_undeliverable,
        processing=_processing(opts, loop, virtual),
    )
    store.log(
        "Starting services: (" + " ".join(SERVICE_IDS) + ")",
        thread="jepsen node " + opts.node_ids[0],
        logger="maelstrom.service",
    )
    services = start_services(
        network,
        stream(opts.seed, "services"),
        lww_converge=getattr(opts, "lww_converge", False),
        on_log=lambda text: store.log(text, logger="maelstrom.service", level="WARN"),
    )

    def node_line(node_id: str, line: str) -> None:
        store.log(line, thread=f"{node_id} stderr", logger="maelstrom.process")
        if echo is not None:
            echo(f"{node_id} stderr: {line}")

    forward = _ForwardToStore(store, FORWARDED_LOG_LINES, echo)
    logging.getLogger(HOST_LOGGER).addHandler(forward)
    try:
        host = host_builder(
            node_ids=list(opts.node_ids),
            network=network,
            store_dir=store.path,
            seed=opts.seed,
            on_log_line=node_line if opts.log_stderr else None,
        )
    except BaseException as e:
        forward.finish()
        if not isinstance(e, RunnerError | OSError | ValueError):
            raise
        # e.g. a --bin that does not exist: a RunResult with the error, as any abort
        for service in services:
            service.close()
        network.close()
        store.journal.close()
        store.write_history([])
        store.log(f"Test aborted: {e}", level="WARN")
        store.close()
        if echo is not None:
            echo(f"Test aborted: {e}")
        return RunResult(
            results=None,
            history=[],
            store_path=store.path,
            valid=None,
            exit_code=EXIT_CRASH,
            opts=opts,
            error=str(e),
            wall_seconds=time.perf_counter() - wall_begin,
        )
    clients = Clients(network)
    error: str | None = None
    problems: list[str] = []
    warnings: list[str] = []
    overrun: list[str] = []

    async def body() -> None:
        await _init_nodes(host, clients, list(opts.node_ids), store)
        history.start_clock()
        network.set_origin(history.origin)
        run = RunContext(
            loop=loop,
            opts=opts,
            workload=workload,
            history=history,
            clients=clients,
            rng=stream(opts.seed, "generator"),
        )
        try:
            await workload.setup(SetupContext(run))
        except Exception as e:
            raise _Aborted(f"client setup failed: {type(e).__name__}: {e}") from e

        async def reinit(node_id: str) -> None:
            client = clients.open()
            try:
                await client.rpc(
                    node_id,
                    {"type": "init", "node_id": node_id, "node_ids": list(opts.node_ids)},
                    INIT_TIMEOUT,
                )
            finally:
                client.close()

        nemesis = Nemesis(
            NemesisContext(
                network=network,
                host=host,
                node_ids=list(opts.node_ids),
                rng=stream(opts.seed, "nemesis"),
                reinit=reinit,
            ),
            history,
            faults,
            opts.nemesis_interval,
        )
        network.heal()
        workers = [Worker(run, i) for i in range(opts.worker_count)]
        deadline = loop.time() + opts.time_limit
        tasks = [main_phase(run, workers, deadline), nemesis.run(deadline)]
        bar = (
            loop.create_task(_progress(loop, loop.time(), opts.time_limit))
            if progress and not virtual and opts.time_limit >= 1
            else None
        )
        try:
            await asyncio.gather(*tasks)
        finally:
            if bar is not None:
                bar.cancel()
        if workload.has_final_phase:
            if faults:
                await nemesis.final()
            store.log(
                "Waiting for recovery...",
                thread="jepsen worker 0",
                logger="jepsen.generator.interpreter",
            )
            await asyncio.sleep(opts.recovery_time)
            await final_phase(run, workers)

    body_task = loop.create_task(body(), name="glome-run")
    if isinstance(loop, VirtualTimeLoop) and wall_budget is not None:

        def on_overrun() -> None:
            overrun.append(
                f"the in-process run used up its wall-clock budget of {wall_budget:g} s at "
                f"virtual time {loop.time() - history.origin:.3f} s: a node keeps the event "
                "loop busy without letting virtual time pass (for example a loop around "
                "`await asyncio.sleep(0)`)"
            )
            body_task.cancel()

        loop.set_wall_budget(wall_budget, on_overrun)
    try:
        await body_task
    except asyncio.CancelledError:
        if not overrun:
            raise
        error = overrun[0]
    except (RunnerError, ValueError) as e:
        error = str(e)
    except Exception as e:  # a bug in glome or a workload: abort with the traceback
        error = f"{type(e).__name__}: {e}"
        store.log(f"run failed\n{traceback.format_exc()}", level="WARN")
    finally:
        store.log("Run complete, writing")
        for nid in opts.node_ids:
            store.log(f"Tearing down {nid}", thread=f"jepsen node {nid}", logger="maelstrom.db")
        try:
            problems = await host.stop()
        finally:
            forward.finish()
        report = getattr(host, "problems", None)
        if callable(report):
            for node_id, lines in sorted(report().items()):
                for line in lines:
                    warnings.append(line)
                    store.log(
                        line, thread=f"jepsen node {node_id}", logger="glome.host", level="WARN"
                    )
        for service in services:
            service.close()
        store.log(
            "Shutting down Maelstrom network",
            thread=f"jepsen node {opts.node_ids[0]}",
            logger="maelstrom.net",
        )
        network.close()
        store.journal.close()
        if undeliverable[0] > UNDELIVERABLE_LOGGED:
            store.log(
                f"{undeliverable[0]} messages in all were sent to endpoints that were not "
                f"registered (only the first {UNDELIVERABLE_LOGGED} are logged)",
                logger="maelstrom.net",
                level="WARN",
            )
        if isinstance(loop, VirtualTimeLoop):  # node code is done: analysis may take its time
            loop.set_wall_budget(None)
            loop.watchdog_armed = False
    if error is None and problems:
        error = NodeCrashed("; ".join(problems)).args[0]
    store.write_history(history.ops)
    write_timeline(store, history.ops)
    journal = _read_journal_once(store.path / "net-journal.jsonl")
    write_messages_svg(store, journal if isinstance(journal, list) else None)
    sim_seconds = loop.time() - loop_begin
    result = RunResult(
        results=None,
        history=history.ops,
        store_path=store.path,
        valid=None,
        exit_code=EXIT_CRASH,
        opts=opts,
        error=error,
        problems=problems,
        warnings=warnings,
        sim_seconds=sim_seconds,
        host=host,
    )
    if echo is not None:
        for line in warnings:
            echo(f"glome: warning: {line}")
    if error is not None:
        store.log(f"Test aborted: {error}", level="WARN")
        store.close()
        result.wall_seconds = time.perf_counter() - wall_begin
        if echo is not None:
            echo(f"Test aborted: {error}")
        return result

    store.log("Analyzing...")
    results = compose.check(
        history.ops,
        opts,
        workload=functools.partial(workload.check, store_dir=store.path),
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
    result.wall_seconds = time.perf_counter() - wall_begin
    if echo is not None:
        echo(summary)
        echo("")
        echo(verdict_line(valid))
        for reason in failing_reasons(results):
            echo(f"  {reason}")
    return result


def _read_journal_once(path: Path) -> list[dict[str, Any]] | Path:
    """The journal's records, read once for messages.svg and the net checker (each read and
    parse of a 3d run's journal costs about 0.14 s). The path itself when the file cannot be
    read cleanly: the net checker then reads it and reports what is wrong, as before."""
    try:
        return list(read_journal(path))
    except (OSError, ValueError):
        return path
