"""ProcessHost: real node processes over pipes, against a minimal in-test network.

Every test that runs processes has a pytest-timeout and also asserts the wall time of the step
that must be bounded (teardown, crash detection), so a hang shows up as a clear failure.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import resource
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from glome.errors import NodeStartError, RunnerError
from glome.sim.hosts.process_pipes import LineSplitter, ProcessLimits, resolve_command
from glome.sim.hosts.processes import ProcessHost, parse_envelope

NODES = Path(__file__).resolve().parent / "nodes"
PLAIN = [sys.executable, str(NODES / "plain_node.py")]


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (no pytest-asyncio needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def faulty(mode: str, *arg: str) -> list[str]:
    return [sys.executable, str(NODES / "faulty.py"), mode, *arg]


class FakeNetwork:
    """Just enough network: clients are endpoints that record what they receive."""

    def __init__(self) -> None:
        self.endpoints: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.next_id = 0
        for client in ("c0", "c1"):
            self.register(client, lambda msg: None)

    def register(self, endpoint: str, deliver: Callable[[dict[str, Any]], Any]) -> None:
        assert endpoint not in self.endpoints
        self.endpoints[endpoint] = deliver

    def unregister(self, endpoint: str) -> None:
        self.endpoints.pop(endpoint, None)

    def is_registered(self, endpoint: str) -> bool:
        return endpoint in self.endpoints

    def send(self, src: str, dest: str, body: dict[str, Any]) -> None:
        self.sent.append((src, dest, body))
        if dest.startswith("n"):
            # Node-to-node traffic is delivered on the next loop turn, like zero latency.
            asyncio.get_running_loop().call_soon(self.deliver, src, dest, body)

    def deliver(self, src: str, dest: str, body: dict[str, Any]) -> Any:
        msg = {"id": self.next_id, "src": src, "dest": dest, "body": body}
        self.next_id += 1
        deliver = self.endpoints.get(dest)
        return None if deliver is None else deliver(msg)

    def replies(self, dest: str, type_: str) -> list[dict[str, Any]]:
        return [b for _, d, b in self.sent if d == dest and b.get("type") == type_]


def init(net: FakeNetwork, node: str, node_ids: list[str], msg_id: int = 1) -> Any:
    body = {"type": "init", "node_id": node, "node_ids": node_ids, "msg_id": msg_id}
    return net.deliver("c0", node, body)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll until ``check()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition not met within {timeout} s")


async def timed(coro: Awaitable[Any]) -> tuple[Any, float]:
    start = time.monotonic()
    result = await coro
    return result, time.monotonic() - start


def make_host(
    tmp_path: Path, command: list[str], nodes: list[str] | None = None, **limits: Any
) -> tuple[ProcessHost, FakeNetwork]:
    net = FakeNetwork()
    host = ProcessHost(command, nodes or ["n0"], net, tmp_path, limits=ProcessLimits(**limits))
    return host, net


async def started(
    tmp_path: Path, command: list[str], nodes: list[str] | None = None, **limits: Any
) -> tuple[ProcessHost, FakeNetwork]:
    host, net = make_host(tmp_path, command, nodes, **limits)
    for node in host.node_ids:
        await host.start(node)
    return host, net


async def initialised(
    tmp_path: Path, command: list[str], nodes: list[str] | None = None, **limits: Any
) -> tuple[ProcessHost, FakeNetwork]:
    host, net = await started(tmp_path, command, nodes, **limits)
    for node in host.node_ids:
        init(net, node, host.node_ids)
    await eventually(lambda: len(net.replies("c0", "init_ok")) == len(host.node_ids))
    return host, net


def echo(net: FakeNetwork, node: str, text: str, msg_id: int, client: str = "c1") -> Any:
    return net.deliver(client, node, {"type": "echo", "echo": text, "msg_id": msg_id})


# ------------------------------------------------------------------------- a correct node


@pytest.mark.timeout(20)
@in_loop
async def test_plain_node_echo_and_broadcast_over_pipes(tmp_path: Path) -> None:
    nodes = ["n0", "n1", "n2"]
    host, net = await initialised(tmp_path, PLAIN, nodes)
    init_ok = net.replies("c0", "init_ok")[0]
    assert init_ok["in_reply_to"] == 1
    assert echo(net, "n1", "hello", 7) is True
    reply = (await eventually(lambda: net.replies("c1", "echo_ok")))[0]
    assert reply == {"type": "echo_ok", "echo": "hello", "msg_id": 2, "in_reply_to": 7}

    net.deliver("c1", "n0", {"type": "broadcast", "message": 42, "msg_id": 8})
    await eventually(lambda: net.replies("c1", "broadcast_ok"))
    await eventually(lambda: sum(1 for s, d, b in net.sent if b.get("type") == "gossip_ok") >= 2)
    net.deliver("c1", "n2", {"type": "read", "msg_id": 9})
    read = (await eventually(lambda: net.replies("c1", "read_ok")))[0]
    assert read["messages"] == [42]

    reports, elapsed = await timed(host.stop())
    assert reports == []
    assert host.crashed() == {}
    assert host.problems() == {}
    assert elapsed < 2.0  # the node exits on EOF/SIGTERM at once
    assert (tmp_path / "state" / "n0").is_dir()
    assert (tmp_path / "node-logs" / "n0.log").exists()


@pytest.mark.timeout(20)
@in_loop
async def test_stderr_goes_to_node_log_and_console(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    net = FakeNetwork()
    host = ProcessHost(faulty("exit-early", "0"), ["n0"], net, tmp_path, log_stderr=True)
    caplog.set_level(logging.INFO, logger="glome.sim.hosts.processes")
    await host.start("n0")
    init(net, "n0", ["n0"])
    echo(net, "n0", "x", 2)
    await eventually(host.crashed)
    await host.stop()
    assert (tmp_path / "node-logs" / "n0.log").read_text() == "faulty: exiting after 0 echoes\n"
    assert "n0 stderr: faulty: exiting after 0 echoes" in caplog.text


@pytest.mark.timeout(20)
@in_loop
async def test_stderr_lines_go_to_the_runner_callback_until_the_log_cap(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    net = FakeNetwork()
    host = ProcessHost(
        faulty("flood-stderr"),
        ["n0"],
        net,
        tmp_path,
        on_log_line=lambda n, line: seen.append((n, line)),
        limits=ProcessLimits(max_log_bytes=50_000, term_timeout=0.5),
    )
    await host.start("n0")
    init(net, "n0", ["n0"])
    await eventually(lambda: host._nodes["n0"].log_full)
    count = len(seen)
    await asyncio.sleep(0.2)
    await host.stop()
    assert seen[0] == ("n0", "faulty: flooding stderr " + "x" * 100)
    assert len(seen) == count <= 50_000 // 100  # forwarding stops with the log


def test_relative_script_argument_gets_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "node.py").write_text("")
    monkeypatch.chdir(tmp_path)
    make_host(tmp_path, [sys.executable, "node.py"])
    assert f"pass {tmp_path.resolve() / 'node.py'} instead" in caplog.text


# --------------------------------------------------------------------------- faulty nodes


@pytest.mark.timeout(20)
@in_loop
async def test_crash_at_start_is_reported_promptly_and_at_teardown(tmp_path: Path) -> None:
    host, _ = make_host(tmp_path, faulty("crash-at-start"))
    start = time.monotonic()
    await host.start("n0")
    crashed = await eventually(host.crashed, timeout=3.0)
    assert time.monotonic() - start < 3.0
    assert crashed["n0"].startswith("Node n0 crashed with exit status 2")
    assert "faulty: crashing at start" in crashed["n0"]
    reports, elapsed = await timed(host.stop())
    assert elapsed < 2.0
    assert len(reports) == 1
    assert reports[0].startswith("Node n0 crashed with exit status 2")
    assert "Last stderr lines:\n    faulty: crashing at start" in reports[0]


@pytest.mark.timeout(20)
@in_loop
async def test_exit_mid_run_is_reported_and_later_messages_are_undelivered(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, faulty("exit-early", "2"))
    for i in range(2):
        echo(net, "n0", f"e{i}", 10 + i)
    await eventually(lambda: len(net.replies("c1", "echo_ok")) == 2)
    assert host.crashed() == {}
    echo(net, "n0", "fatal", 20)
    (_, took) = await timed(eventually(host.crashed, timeout=3.0))
    assert took < 3.0
    assert "exit status 3" in host.crashed()["n0"]
    assert "exiting after 2 echoes" in host.crashed()["n0"]
    assert not net.is_registered("n0")  # the network journals later messages as undelivered
    reports, elapsed = await timed(host.stop())
    assert elapsed < 2.0
    assert "Node n0 crashed with exit status 3" in reports[0]
    assert "Last stdout lines:" in reports[0]  # Maelstrom shows the last stdout lines too


@pytest.mark.timeout(20)
@in_loop
async def test_node_that_never_answers_init_is_torn_down_in_bounded_time(tmp_path: Path) -> None:
    host, net = await started(tmp_path, faulty("no-init"))
    init(net, "n0", ["n0"])
    await asyncio.sleep(0.5)
    assert net.replies("c0", "init_ok") == []  # the runner's init timeout decides what to do
    reports, elapsed = await timed(host.stop())
    assert reports == []
    assert elapsed < 2.0


@pytest.mark.timeout(30)
@in_loop
async def test_node_that_stops_reading_does_not_block_and_is_killed(tmp_path: Path) -> None:
    host, net = await initialised(
        tmp_path, faulty("hang"), stdin_buffer_bytes=64 * 1024, term_timeout=0.5
    )
    await asyncio.sleep(0.2)  # let it reach its sleep
    payload = "z" * 1000
    start = time.monotonic()
    accepted = [echo(net, "n0", payload, i) for i in range(1000)]
    assert time.monotonic() - start < 1.0  # deliver never blocks
    assert accepted[0] is True
    assert accepted.count(False) > 500  # beyond ~64 KiB pipe + 64 KiB buffer, dropped
    problems = host.problems()["n0"]
    assert any("did not read its stdin" in p for p in problems)
    reports, elapsed = await timed(host.stop())
    # SIGTERM is ignored: SIGKILL after term_timeout; bounded by term + a little.
    assert 0.4 < elapsed < 2.5
    assert reports == []
    assert host.crashed() == {}


@pytest.mark.timeout(20)
@in_loop
async def test_messages_dropped_at_a_full_stdin_are_journaled_undelivered(tmp_path: Path) -> None:
    import io

    import orjson

    from glome.sim.net.network import Network

    journal = io.BytesIO()
    network = Network(asyncio.get_running_loop(), journal=journal)
    replies: list[dict[str, Any]] = []
    network.register("c0", replies.append)
    host = ProcessHost(
        faulty("hang"),
        ["n0"],
        network,
        tmp_path,
        limits=ProcessLimits(stdin_buffer_bytes=32 * 1024, term_timeout=0.2),
    )
    await host.start("n0")
    network.send("c0", "n0", {"type": "init", "node_id": "n0", "node_ids": ["n0"], "msg_id": 1})
    await eventually(lambda: replies)
    for i in range(300):
        network.send("c0", "n0", {"type": "echo", "echo": "z" * 1000, "msg_id": 2 + i})
    await asyncio.sleep(0.1)
    await host.stop()
    network.close()
    entries = [orjson.loads(line) for line in journal.getvalue().splitlines()]
    to_node = [e for e in entries if e["dest"] == "n0" and e["body"]["type"] == "echo"]
    undelivered = [e for e in to_node if e["recv_time"] is None]
    assert len(to_node) == 300
    assert 100 < len(undelivered) < 300 and not any(e["dropped"] for e in undelivered)
    assert f"{len(undelivered)} message(s)" in host.problems()["n0"][0]


@pytest.mark.timeout(20)
@in_loop
async def test_node_that_stops_reading_is_reported_even_under_light_traffic(tmp_path: Path) -> None:
    host, net = await initialised(
        tmp_path, faulty("hang"), stall_check_interval=0.1, stall_report_after=0.5, term_timeout=0.2
    )
    echo(net, "n0", "never read", 2)  # a few bytes: far from filling any buffer
    await eventually(lambda: host._nodes["n0"].longest_stall >= 0.5, timeout=3.0)
    await host.stop()
    [problem] = host.problems()["n0"]
    assert problem.startswith("n0 did not read its stdin for ")
    assert "bytes waiting): it stopped reading, or was busy elsewhere" in problem


@pytest.mark.timeout(20)
@in_loop
async def test_a_busy_reader_or_a_paused_node_is_not_stalled(tmp_path: Path) -> None:
    # A generous bound: on a loaded machine a healthy process can go unscheduled briefly.
    host, net = await initialised(tmp_path, PLAIN, stall_check_interval=0.1, stall_report_after=1.0)
    for i in range(200):
        echo(net, "n0", "x" * 1000, 100 + i)
        await asyncio.sleep(0.002)
    await host.pause("n0")
    echo(net, "n0", "while paused", 999)
    await asyncio.sleep(0.4)
    await host.resume("n0")
    await eventually(lambda: len(net.replies("c1", "echo_ok")) == 201)
    await host.stop()
    assert host.problems() == {}


@pytest.mark.timeout(20)
@in_loop
async def test_non_json_lines_are_dropped_logged_and_routing_continues(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="glome.sim.hosts.processes")
    host, net = await initialised(tmp_path, faulty("non-json"))
    for i in range(3):
        echo(net, "n0", f"e{i}", 10 + i)
    await eventually(lambda: len(net.replies("c1", "echo_ok")) == 3)
    reports, _ = await timed(host.stop())
    assert reports == []
    [problem] = host.problems()["n0"]
    assert "3 stdout line(s) that are not valid messages (not-json: 3)" in problem
    assert "Maelstrom would have stopped routing" in problem
    assert "not valid JSON" in caplog.text
    assert "this is not json" in caplog.text


@pytest.mark.timeout(20)
@in_loop
async def test_schema_violations_are_dropped_by_kind(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, faulty("bad-schema"))
    for i in range(2):
        echo(net, "n0", f"e{i}", 10 + i)
    await eventually(lambda: len(net.replies("c1", "echo_ok")) == 2)
    await host.stop()
    assert all(d != "nobody" for _, d, _ in net.sent)
    [problem] = host.problems()["n0"]
    assert "(body-not-object: 2, extra-keys: 2, unknown-dest: 2)" in problem


@pytest.mark.timeout(20)
@in_loop
async def test_late_reply_to_a_closed_client_is_dropped(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, faulty("late-reply", "0.5"))
    net.register("c9", lambda msg: None)
    start = time.monotonic()
    echo(net, "n0", "slow", 3, client="c9")
    echo(net, "n0", "slow", 4, client="c1")
    del net.endpoints["c9"]  # the client timed out and was closed
    await eventually(lambda: net.replies("c1", "echo_ok"))
    assert time.monotonic() - start >= 0.45
    await asyncio.sleep(0.1)
    assert net.replies("c9", "echo_ok") == []
    await host.stop()
    assert "unknown-dest: 1" in host.problems()["n0"][0]


@pytest.mark.timeout(30)
@in_loop
async def test_stdout_flood_is_read_at_a_bounded_rate(tmp_path: Path) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    host, net = await initialised(
        tmp_path,
        faulty("flood"),
        lines_per_second=5000,
        line_burst=1000,
        stdin_buffer_bytes=256 * 1024,
        term_timeout=0.5,
    )
    await asyncio.sleep(1.5)
    routed = sum(1 for _, _, b in net.sent if b.get("type") == "flood")
    assert 1000 < routed <= 1000 + 5000 * 2.0  # burst + rate x elapsed (with slack)
    reports, elapsed = await timed(host.stop())
    assert elapsed < 2.5
    assert reports == []
    problems = " ".join(host.problems()["n0"])
    assert "more than 5000 lines/s" in problems
    assert "did not read its stdin" in problems  # it floods itself and never reads
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rss_after - rss_before < 100 * 1024  # KiB: no unbounded buffering


@pytest.mark.timeout(30)
@in_loop
async def test_stderr_flood_is_capped_in_the_node_log(tmp_path: Path) -> None:
    host, _ = await initialised(
        tmp_path, faulty("flood-stderr"), max_log_bytes=200_000, term_timeout=0.5
    )
    await eventually(lambda: host._nodes["n0"].log_full)
    await asyncio.sleep(0.2)  # the flood goes on; the log must not grow
    _, elapsed = await timed(host.stop())
    assert elapsed < 2.5
    log_file = tmp_path / "node-logs" / "n0.log"
    assert log_file.stat().st_size <= 200_000 + 100
    assert log_file.read_bytes().endswith(b"later lines are not kept]\n")
    assert any("stderr log reached 200000 bytes" in p for p in host.problems()["n0"])


@pytest.mark.timeout(30)
@in_loop
async def test_huge_stdout_line_is_dropped_and_routing_continues(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, faulty("huge-line", "5"), max_line_bytes=1024 * 1024)
    await eventually(lambda: host._nodes["n0"].overlong_lines == 1)
    echo(net, "n0", "after", 5)
    await eventually(lambda: net.replies("c1", "echo_ok"))
    await host.stop()
    assert any("over 1048576 bytes (dropped)" in p for p in host.problems()["n0"])


# ------------------------------------------------------------------- kill, restart, pause


@pytest.mark.timeout(20)
@in_loop
async def test_kill_and_restart_keep_the_working_directory(tmp_path: Path) -> None:
    script = "import os, sys; sys.stderr.write(os.getcwd() + '\\n'); sys.stderr.flush(); sys.stdin.read()"
    host, _ = await started(tmp_path, [sys.executable, "-c", script])
    log_file = tmp_path / "node-logs" / "n0.log"
    await eventually(lambda: log_file.read_text().count("\n") == 1)
    _, elapsed = await timed(host.kill("n0"))
    assert elapsed < 1.0
    assert host.crashed() == {}  # a kill is not a crash
    await host.restart("n0")
    await eventually(lambda: log_file.read_text().count("\n") == 2)
    assert await host.stop() == []
    lines = log_file.read_text().splitlines()
    assert lines == [str((tmp_path / "state" / "n0").resolve())] * 2


@pytest.mark.timeout(20)
@in_loop
async def test_messages_to_a_killed_peer_are_not_the_senders_fault(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, PLAIN, ["n0", "n1"])
    await host.kill("n1")
    assert not net.is_registered("n1")
    net.deliver("c1", "n0", {"type": "broadcast", "message": 5, "msg_id": 3})
    await eventually(lambda: any(d == "n1" and b["type"] == "gossip" for _, d, b in net.sent))
    await host.restart("n1")  # registers again
    assert net.is_registered("n1")
    init(net, "n1", ["n0", "n1"], msg_id=9)
    await eventually(lambda: len(net.replies("c0", "init_ok")) == 3)
    assert await host.stop() == []
    assert host.problems() == {}
    assert host.crashed() == {}


@pytest.mark.timeout(20)
@in_loop
async def test_pause_holds_messages_and_resume_releases_them(tmp_path: Path) -> None:
    host, net = await initialised(tmp_path, PLAIN)
    await host.pause("n0")
    echo(net, "n0", "held", 5)
    await asyncio.sleep(0.3)
    assert net.replies("c1", "echo_ok") == []
    await host.resume("n0")
    await eventually(lambda: net.replies("c1", "echo_ok"))
    await host.pause("n0")  # teardown of a paused node is still bounded
    reports, elapsed = await timed(host.stop())
    assert reports == []
    assert elapsed < 2.0


@pytest.mark.timeout(20)
@in_loop
async def test_wrapper_script_children_are_killed_too(tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.sh"
    # No exec: the shell stays the parent, and the python child ignores SIGTERM and holds
    # the pipes open. Signalling the process group is what ends both.
    pid_file = tmp_path / "child.pid"
    child = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    wrapper.write_text(f'#!/bin/sh\n{sys.executable} -c "{child}"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    host, _ = await started(tmp_path, [str(wrapper)], term_timeout=0.3)
    await eventually(lambda: pid_file.exists() and pid_file.read_text())
    reports, elapsed = await timed(host.stop())
    assert reports == []
    assert elapsed < 2.5
    assert await eventually(lambda: gone(int(pid_file.read_text())), timeout=2.0)


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting for init to reap it counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.timeout(20)
@in_loop
async def test_start_errors_are_plain(tmp_path: Path) -> None:
    with pytest.raises(NodeStartError, match="no such file"):
        make_host(tmp_path, [str(tmp_path / "missing")])
    script = tmp_path / "not-exec.py"
    script.write_text("print('hi')\n")
    with pytest.raises(NodeStartError, match="not executable"):
        make_host(tmp_path, [str(script)])
    with pytest.raises(NodeStartError, match="not found on PATH"):
        make_host(tmp_path, ["glome-no-such-binary"])
    with pytest.raises(NodeStartError, match="Expected a --bin"):
        make_host(tmp_path, [])
    host, _ = await started(tmp_path, PLAIN)
    with pytest.raises(RunnerError, match="already running"):
        await host.start("n0")
    with pytest.raises(RunnerError, match="unknown node"):
        await host.start("n7")
    await host.stop()


def test_relative_binary_is_resolved_against_the_runner_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = tmp_path / "node"
    node.write_text("#!/bin/sh\n")
    node.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert resolve_command(["./node", "a", "b"]) == [str(node.resolve()), "a", "b"]
    assert Path(resolve_command(["sh"])[0]).is_absolute()
    # A symlink stays a symlink: a virtualenv's python finds its packages only through it.
    (tmp_path / "venv-python").symlink_to(node)
    assert resolve_command(["./venv-python"]) == [str(tmp_path / "venv-python")]


# ----------------------------------------------------------------------- pure functions


REGISTERED = {"n0", "n1", "c3", "lin-kv"}.__contains__


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"hello", "not-json"),
        (b"", "not-json"),
        (b"[1, 2]", "not-an-object"),
        (b'{"src": "n0", "body": {}}', "missing-keys"),
        (b'{"src": "n0", "dest": "n1", "body": {}, "extra": 1}', "extra-keys"),
        (b'{"src": "n0", "dest": "n1", "body": {}, "id": "7"}', "bad-id"),
        (b'{"src": "n0", "dest": "n1", "body": {}, "id": true}', "bad-id"),
        (b'{"src": 0, "dest": "n1", "body": {}}', "bad-src-dest"),
        (b'{"src": "n0", "dest": "n1", "body": [1]}', "body-not-object"),
        (b'{"src": "n0", "dest": "n1", "body": "text"}', "body-not-object"),
        (b'{"src": "n0", "dest": "c9", "body": {}}', "unknown-dest"),
        (b'{"src": "n9", "dest": "n1", "body": {}}', "unknown-src"),
        (b'{"src": "n0", "dest": "n1", "body": {"x": NaN}}', "not-json"),
    ],
)
def test_parse_envelope_rejects(line: bytes, kind: str) -> None:
    with pytest.raises(ValueError, match=f"^{kind}: "):
        parse_envelope(line, REGISTERED)


def test_parse_envelope_accepts_spec_messages() -> None:
    assert parse_envelope(b'{"src":"n0","dest":"c3","body":{"type":"echo_ok"}}', REGISTERED) == (
        "n0",
        "c3",
        {"type": "echo_ok"},
    )
    # id is optional and ignored; src need not be the writer (docs/protocol.md#envelope); big ints
    # survive.
    line = b'{"id": 5, "src": "n1", "dest": "lin-kv", "body": {"type": "write", "value": 123456789012345678901234}}'
    assert parse_envelope(line, REGISTERED)[2]["value"] == 123456789012345678901234
    negative = b'{"src": "n1", "dest": "n0", "body": {"ids": [-9999999999999999999, 18446744073709551615]}}'
    assert parse_envelope(negative, REGISTERED)[2]["ids"] == [
        -9999999999999999999,
        18446744073709551615,
    ]


def test_line_splitter_handles_chunks_and_overlong_lines() -> None:
    lines: list[bytes] = []
    overlong: list[int] = []
    splitter = LineSplitter(10, lines.append, overlong.append)
    for chunk in (b"ab", b"c\nde", b"f\n", b"0123456789012", b"345\nok\n", b"x" * 30 + b"\nlast"):
        splitter.feed(chunk)
    splitter.end()
    assert lines == [b"abc", b"def", b"ok", b"last"]
    assert overlong == [16, 30]


# ------------------------------------------------- end to end: glome.sim.run(bin=...)
#
# The whole runner with real processes. Timeouts are shortened through the runner's own
# constants so each faulty behaviour ends in a few seconds; the wall-time bound asserted is
# time limit + RPC timeout (an op in flight at the cut) + teardown + slack.

RPC_TIMEOUT = 1.0
INIT_TIMEOUT = 2.0


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import glome.sim.runner
    import glome.sim.workloads.generator

    monkeypatch.setattr(glome.sim.workloads.generator, "DEFAULT_RPC_TIMEOUT", RPC_TIMEOUT)
    monkeypatch.setattr(glome.sim.runner, "INIT_TIMEOUT", INIT_TIMEOUT)


def run_bin(tmp_path: Path, command: list[str], **options: Any) -> tuple[Any, float]:
    from glome.sim import run

    settings: dict[str, Any] = {"workload": "echo", "node_count": 1, "time_limit": 1, "rate": 10}
    settings.update(options)
    start = time.monotonic()
    result = run(bin=command, store_dir=tmp_path / "store", **settings)
    return result, time.monotonic() - start


def jepsen_log(result: Any) -> str:
    return (Path(result.store_path) / "jepsen.log").read_text()


@pytest.mark.timeout(30)
def test_e2e_plain_node_passes_echo(tmp_path: Path) -> None:
    result, elapsed = run_bin(tmp_path, PLAIN, node_count=2, rate=20)
    assert result.error is None
    assert result.valid is True and result.exit_code == 0
    assert result.results["workload"]["valid?"] is True
    assert elapsed < 1 + 3
    assert result.host.problems() == {}


@pytest.mark.timeout(40)
def test_e2e_plain_node_passes_broadcast_through_an_executable(tmp_path: Path) -> None:
    # --bin PATH as Maelstrom users write it: an executable script with a shebang.
    wrapper = tmp_path / "node"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {NODES / "plain_node.py"} "$@"\n')
    wrapper.chmod(0o755)
    result, elapsed = run_bin(
        tmp_path,
        [str(wrapper)],
        workload="broadcast",
        node_count=5,
        time_limit=2,
        rate=20,
        latency=10,
        recovery_time=1,
    )
    assert result.error is None
    assert result.valid is True, result.results
    workload = result.results["workload"]
    assert workload["lost-count"] == 0 and workload["valid?"] is True
    assert elapsed < 2 + 1 + 4


@pytest.mark.timeout(30)
def test_e2e_crash_at_start_aborts_plainly(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("crash-at-start"))
    assert result.exit_code == 255 and result.results is None
    # Init watches for crashes: the report at once, not "did not respond" after the timeout.
    assert result.error.startswith(
        "Expected node n0 to respond to an init message, but it crashed: "
        "Node n0 crashed with exit status 2"
    )
    assert "Node n0 crashed with exit status 2" in "\n".join(result.problems)
    assert "faulty: crashing at start" in "\n".join(result.problems)
    assert "Test aborted" in jepsen_log(result)
    assert elapsed < INIT_TIMEOUT + 3


@pytest.mark.timeout(30)
def test_e2e_exit_mid_run_is_a_crash(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("exit-early", "2"), time_limit=2)
    assert result.exit_code == 255
    assert result.error.startswith("Node n0 crashed with exit status 3")
    assert "faulty: exiting after 2 echoes" in result.error
    assert "Test aborted: Node n0 crashed with exit status 3" in jepsen_log(result)
    assert elapsed < 2 + RPC_TIMEOUT + 3


@pytest.mark.timeout(30)
def test_e2e_node_that_never_answers_init(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("no-init"))
    assert result.exit_code == 255
    assert "Expected node n0 to respond to an init message" in result.error
    assert elapsed < INIT_TIMEOUT + 3


@pytest.mark.timeout(30)
def test_e2e_node_that_stops_reading(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("hang"), time_limit=3)
    assert result.error is None and result.valid is False  # every echo timed out
    assert result.results["stats"]["ok-count"] == 0
    assert any("did not read its stdin" in p for p in result.host.problems()["n0"])
    # time limit + the op in flight + SIGTERM ignored (1 s) then SIGKILL
    assert elapsed < 3 + RPC_TIMEOUT + 1 + 3


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("mode", "kinds"),
    [
        ("non-json", "(not-json: "),
        ("bad-schema", "(body-not-object: "),
    ],
)
def test_e2e_bad_lines_are_dropped_and_the_run_goes_on(
    tmp_path: Path, mode: str, kinds: str
) -> None:
    result, elapsed = run_bin(tmp_path, faulty(mode))
    assert result.error is None
    assert result.valid is True  # glome keeps routing after a bad line (Maelstrom would not)
    [problem] = result.host.problems()["n0"]
    assert kinds in problem and "Maelstrom would have stopped routing" in problem
    assert result.warnings == [problem]  # the runner reports it ...
    assert problem in jepsen_log(result)  # ... and logs it
    # The live notices of the host (each bad line with its excerpt) reach jepsen.log too.
    live = [ln for ln in jepsen_log(result).splitlines() if "n0 wrote a bad stdout line" in ln]
    assert live and all("[glome host] glome.sim.hosts.processes:" in ln for ln in live)
    if mode == "non-json":
        assert "this is not json" in live[0]
    assert elapsed < 1 + 3


def test_host_notices_in_jepsen_log_are_bounded(tmp_path: Path) -> None:
    import logging

    from glome.sim.render.store import HostNotices, Store

    store = Store(tmp_path, "echo")
    forward = HostNotices(store, 3, None)
    logger = logging.getLogger("glome.sim.hosts.processes")
    logger.addHandler(forward)
    for i in range(10):
        logger.warning("notice %d", i)
    logger.info("not a notice")  # below WARNING: not forwarded
    forward.finish()
    logger.warning("after the run")  # detached: not forwarded
    store.close()
    text = (store.path / "jepsen.log").read_text()
    assert [f"notice {i}" in text for i in range(4)] == [True, True, True, False]
    assert "7 more notices from the node host were not logged" in text
    assert "not a notice" not in text and "after the run" not in text


@pytest.mark.timeout(30)
def test_e2e_late_replies_time_out_and_are_dropped(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("late-reply", "1.5"), time_limit=3)
    assert result.error is None and result.valid is False
    ops = [op for op in result.history if op["process"] != "nemesis" and op["type"] != "invoke"]
    assert ops and all(op["type"] == "info" for op in ops)
    assert any("unknown-dest: " in p for p in result.host.problems()["n0"])  # closed clients
    assert elapsed < 3 + RPC_TIMEOUT + 3


@pytest.mark.timeout(30)
def test_e2e_flood_is_throttled_and_bounded(tmp_path: Path, short_timeouts: None) -> None:
    result, elapsed = run_bin(tmp_path, faulty("flood"))
    assert result.error is None and result.valid is False
    assert any("lines/s to stdout" in p for p in result.host.problems()["n0"])
    assert elapsed < 1 + RPC_TIMEOUT + 4


@pytest.mark.timeout(30)
def test_e2e_huge_line_is_dropped(tmp_path: Path) -> None:
    result, elapsed = run_bin(tmp_path, faulty("huge-line", "10"))
    assert result.error is None and result.valid is True
    assert any("over 8388608 bytes" in p for p in result.host.problems()["n0"])
    assert elapsed < 1 + 4


# --------------------------------------------------------- end to end: the glome CLI

REPO = Path(__file__).resolve().parents[1]


def glome_cli(tmp_path: Path, *args: str) -> tuple[Any, float]:
    import subprocess

    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "glome.cli",
            "test",
            *args,
            "--store",
            str(tmp_path / "store"),
            "--quiet",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc, time.monotonic() - start


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_cli_third_party_node_passes_echo_and_broadcast(tmp_path: Path) -> None:
    # Relative --bin as Maelstrom users type it; the script has a shebang and no glome import.
    proc, elapsed = glome_cli(
        tmp_path,
        "-w",
        "echo",
        "--bin",
        "tests/nodes/plain_node.py",
        "--node-count",
        "2",
        "--time-limit",
        "1",
        "--rate",
        "20",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Everything looks good!" in proc.stdout
    proc, _ = glome_cli(
        tmp_path,
        "-w",
        "broadcast",
        "--bin",
        "tests/nodes/plain_node.py",
        "--node-count",
        "5",
        "--time-limit",
        "2",
        "--rate",
        "20",
        "--latency",
        "10",
        "--recovery-time",
        "1",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 15


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_cli_node_that_exits_mid_run_exits_255_with_a_plain_message(tmp_path: Path) -> None:
    proc, elapsed = glome_cli(
        tmp_path,
        "-w",
        "echo",
        "--bin",
        "tests/nodes/faulty.py",
        "exit-early",
        "2",
        "--node-count",
        "1",
        "--time-limit",
        "2",
    )
    assert proc.returncode == 255, proc.stdout + proc.stderr
    assert "Test aborted: Node n0 crashed with exit status 3" in proc.stdout
    assert "faulty: exiting after 2 echoes" in proc.stdout
    assert elapsed < 2 + 5 + 5  # time limit + the op in flight (5 s RPC timeout) + slack


def test_excerpt_is_bounded_and_decodes_only_the_head() -> None:
    from glome.sim.hosts.process_pipes import excerpt

    assert excerpt(b"short") == "short"
    long = excerpt(b"a" * 10_000_000)
    assert long.startswith("a" * 300) and long.endswith("... (10000000 bytes)") and len(long) < 400
    assert excerpt(b"\xff\xfe bad utf-8") == "\ufffd\ufffd bad utf-8"


@pytest.mark.timeout(30)
def test_e2e_missing_binary_is_a_plain_error(tmp_path: Path) -> None:
    # The Python API and the CLI agree: a RunResult with the error, exit code 255.
    missing = tmp_path / "no-such-node"
    result, _ = run_bin(tmp_path, [str(missing)])
    assert result.exit_code == 255 and result.valid is None
    assert result.error.startswith(f"--bin {missing}: no such file")
    assert f"Test aborted: --bin {missing}: no such file" in jepsen_log(result)
