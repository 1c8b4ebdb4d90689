# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 Introduction: the protocol, the runtime, the simulator, and how to read a result
#
# [Maelstrom](https://github.com/jepsen-io/maelstrom) is Jepsen's workbench for toy distributed
# systems, and Fly.io's "Gossip Glomers" are a series of challenges built on it. Each challenge
# asks you to write a **node**: a program that reads JSON messages on stdin and writes JSON
# messages on stdout. Maelstrom starts several nodes, plays clients against them, routes their
# messages through a simulated network that it can delay or cut, records everything the
# clients saw (the **history**) and finally checks that history against what the system
# promised.
#
# glome does all of that in Python, so the whole loop fits in a notebook:
#
# | part | module | what it does here |
# |---|---|---|
# | node runtime | `glome.runtime` | write a node as a class with one method per message type |
# | runner | `glome.sim.run` | Maelstrom's workloads, network, faults and checkers, on a virtual clock |
# | grader | `glome.challenges`, `glome.exercises` | each challenge's official command and targets |
# | analysis | `analysis` | any result directory (glome's or real Maelstrom's) as pandas frames and plots |
#
# This notebook walks through one tiny node end to end. The later notebooks do the same for
# each challenge, from a naive node to a hardened one, with the flaw measured in between.

# %%
import subprocess
import sys

import matplotlib.pyplot as plt
import pandas as pd

import analysis
from glome.sim import run

pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 70)

# %% [markdown]
# ## 1. The protocol: JSON lines in, JSON lines out
#
# A message is `{"src": ..., "dest": ..., "body": {...}}`. The body has a `type`; a request
# carries a `msg_id`, and its reply carries `in_reply_to` with that id. The first message a
# node ever gets is `init`, which tells it its own id and the ids of every node in the cluster.
#
# Our first node is glome's echo node. Because a node is just a program reading stdin, we can
# talk to it without any test harness at all: start it, write three lines, read what it says.

# %%
requests = [
    '{"src": "c0", "dest": "n0", "body": {"type": "init", "msg_id": 1, "node_id": "n0", "node_ids": ["n0"]}}',
    '{"src": "c1", "dest": "n0", "body": {"type": "echo", "msg_id": 1, "echo": "hello"}}',
    '{"src": "c1", "dest": "n0", "body": {"type": "echo", "msg_id": 2, "echo": "world"}}',
]
reply = subprocess.run(
    [sys.executable, "-m", "glome.nodes.echo"],
    input="\n".join(requests) + "\n",
    capture_output=True,
    text=True,
    timeout=30,
    check=True,
)
print(reply.stdout)

# %% [markdown]
# Three requests, three replies, each naming the request it answers. That is the whole
# contract; Maelstrom adds nothing but clients, a network and a checker around it. (The node's
# own log lines go to stderr, which Maelstrom keeps in `node-logs/`.)
#
# ## 2. The runtime: a node is a class
#
# `glome.runtime.Node` does the plumbing: it parses lines, answers `init`, routes replies to
# the RPC that waits for them, turns an exception in a handler into an error reply, and gives
# the node its clock and random numbers (so the simulator can control both). A handler
# returns the reply body, or calls `self.reply` / `self.send` / `await self.rpc(...)` itself.
# The echo node is this:

# %%
import inspect

from glome.nodes.echo import Echo

print(inspect.getsource(Echo))

# %% [markdown]
# ## 3. The simulator: a Maelstrom test in a fraction of a second
#
# `glome.sim.run` is Maelstrom's `test` command. Given a node *class* it runs every node
# in-process on a **virtual clock**: nothing ever really sleeps, the network's latency and the
# workload's schedule advance simulated time, and a seed fixes every random choice. So a
# 10-second test takes a fraction of those 10 seconds, and the same seed gives the same history,
# byte for byte. Handling a message costs simulated time too, as it costs real time under
# Maelstrom: a few milliseconds of I/O on its way (`io_delay`), a charge per byte in a router
# that every message of the run passes through (`router_per_byte`), and a short service time
# at the node, which handles one message at a time (`processing_time`). So operations take
# milliseconds, and a design that floods the network makes everyone wait. (Given `bin=[...]` instead, it runs any Maelstrom binary as real processes in
# real time, exactly as Maelstrom does.)
#
# The keywords are Maelstrom's flags: `--node-count 1 --time-limit 10` becomes
# `node_count=1, time_limit=10`.

# %%
result = run(Echo, workload="echo", node_count=1, time_limit=10, rate=5, seed=1)
print(result)
print(f"simulated {result.sim_seconds:.1f} s in {result.wall_seconds:.2f} s of wall time")
assert result.wall_seconds < result.sim_seconds / 2  # the claim above: a fraction of the time

# %% [markdown]
# ## 4. Reading a result
#
# A run leaves a directory laid out exactly as Maelstrom's `store/`: `results.edn` (the
# checkers' verdicts), `history.edn` and `history.txt` (every client operation), `jepsen.log`,
# `node-logs/`, plus glome's message journal `net-journal.jsonl`.

# %%
sorted(p.name for p in result.store_path.iterdir())

# %% [markdown]
# `result.results` is `results.edn` as a Python dict. The top-level `valid?` merges every
# checker: `workload` (did the system do what the workload demands; for echo, did every reply
# echo its request), `stats` and `availability` (how many operations succeeded), `net`
# (message counts, the `msgs-per-op` that later challenges put a target on), `perf`
# (latencies), `exceptions`.

# %%
{
    name: (value["valid?"] if isinstance(value, dict) else value)
    for name, value in result.results.items()
}

# %% [markdown]
# The `analysis` package reads the directory back as pandas frames. It never imports the
# simulator, so it reads real Maelstrom results just as well (notebook 07).

# %%
loaded = analysis.load(result.store_path)
print(loaded.summary())

# %% [markdown]
# `ops` pairs each invocation with its completion: one row per client operation, with its
# latency. `messages` is every message that crossed the network, from the journal.

# %%
loaded.ops[["process", "f", "type", "invoke_value", "invoke_time_s", "latency_ms"]].head()

# %%
loaded.messages[["id", "src", "dest", "type", "msg_id", "in_reply_to", "send_time_s"]].head(6)

# %% [markdown]
# Every plot in `analysis` takes an optional matplotlib `ax`, so they compose. Echo is not
# much to look at: each operation takes only the I/O delay of its request and its reply.
# Maelstrom's `--latency` delays messages between nodes and between a node and a service
# (never to or from a client), so here is a node that *uses* a service:
# challenge 4's counter, which keeps its totals in Maelstrom's `seq-kv` store, with 50 ms on
# every such link. Each client operation now costs the node a few round trips to `seq-kv`.

# %%
from glome.nodes.counter import SeqKVCounter

slow = analysis.load(
    run(
        SeqKVCounter,
        workload="g-counter",
        node_count=2,
        time_limit=5,
        rate=5,
        latency=50,
        recovery_time=1,
        seed=1,
    ).store_path
)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
analysis.plot_latency(slow, ax=left)
analysis.plot_spacetime(slow, ax=right, limit=24)
fig.tight_layout()

# %% [markdown]
# On the right, the space-time (Lamport) diagram: one column per client, node or service,
# time flowing down, one arrow per message: client messages are nearly flat (the I/O delay
# only), the node's requests to `seq-kv` and their replies slope down by 50 ms each. It is
# the picture to draw whenever a run surprises you.
#
# ## 5. Replay by seed
#
# Because every random choice comes from the seed, a failing run is a reproducible bug report:
# rerun with the same seed and you get the same history, byte for byte.

# %%
a = run(Echo, workload="echo", node_count=2, time_limit=5, rate=10, latency=50, seed=42)
b = run(Echo, workload="echo", node_count=2, time_limit=5, rate=10, latency=50, seed=42)
c = run(Echo, workload="echo", node_count=2, time_limit=5, rate=10, latency=50, seed=43)
same = (a.store_path / "history.edn").read_bytes() == (b.store_path / "history.edn").read_bytes()
other = (a.store_path / "history.edn").read_bytes() == (c.store_path / "history.edn").read_bytes()
print(f"seed 42 twice: identical histories = {same}; seed 42 vs 43: identical = {other}")

# %% [markdown]
# ## Where next
#
# - `01_echo`: the first challenge, graded, and what a broken echo looks like to the checker.
# - `02_unique_ids` to `06_transactions`: each challenge from naive to hardened.
# - `07_analysing_results`: point `analysis` at any run directory, including real Maelstrom's.
# - `exercises/`: write the nodes yourself and get graded on the spot.
