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
# # 05 Kafka-style log: offsets, replication, and a crash that forgets
#
# Challenge 5: an append-only log per key. `send {key, msg}` appends and answers the
# message's **offset**; `poll {offsets}` returns messages from given offsets; clients commit
# and list the offsets they have consumed. The checker demands, among other things, that an
# offset names one message forever (`inconsistent-offsets`), that an acknowledged send is
# never lost (`lost-write`), and that every acknowledged send is eventually seen by polls
# (`unseen`).
#
# ```
# ./maelstrom test -w kafka --bin <node> --node-count 2 --concurrency 2n --time-limit 20 --rate 1000
# ```
#
# Nodes in `glome.nodes.kafka`:
#
# | node | step | idea |
# |---|---|---|
# | `SingleNodeKafka` | 5a | dense per-key offsets in memory |
# | `LinKVKafka` | 5b | offsets by compare-and-set on a per-key counter in `lin-kv` |
# | `OwnerKafka` | 5c | one owner per key, sends forwarded to it: no cas at all |
# | `StaticLeaderKafka` | naive | glome-rs: a fixed leader replicating in memory |
# | `RaftKafka` | hardened | Raft: terms, elections, fencing, and a sqlite write-ahead log with fsync |
#
# The Gossip Glomers challenge never crashes a node, and Maelstrom's only fault is the network
# partition. glome adds a crash fault (`nemesis="kill"`), because a log that acknowledges a
# write promises to keep it. That is the second half of this notebook.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import analysis
from glome.exercises import grade_node
from glome.nodes.kafka import LinKVKafka, OwnerKafka, RaftKafka, SingleNodeKafka, StaticLeaderKafka
from glome.sim import run

pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 80)

# %% [markdown]
# ## 1. 5a to 5c: where do offsets come from?
#
# One node can number messages itself. Two nodes must agree: `LinKVKafka` increments a
# per-key counter in Maelstrom's linearizable `lin-kv` service with compare-and-set, retrying
# on conflicts; `OwnerKafka` makes one node the owner of each key (by hash) and forwards sends
# there. We run each with the challenge's load (1000 ops/s, concurrency 2n), shortened to 3 s.

# %%
kafka_runs = {
    "SingleNodeKafka (5a, 1 node)": run(
        SingleNodeKafka,
        workload="kafka",
        node_count=1,
        concurrency="2n",
        time_limit=3,
        rate=1000,
        seed=1,
    ),
    "LinKVKafka (5b)": run(
        LinKVKafka,
        workload="kafka",
        node_count=2,
        concurrency="2n",
        time_limit=3,
        rate=1000,
        seed=1,
    ),
    "OwnerKafka (5c)": run(
        OwnerKafka,
        workload="kafka",
        node_count=2,
        concurrency="2n",
        time_limit=3,
        rate=1000,
        seed=1,
    ),
}
analysis.compare([r.store_path for r in kafka_runs.values()], labels=list(kafka_runs))[
    [
        "run",
        "valid",
        "ops",
        "ok_fraction",
        "msgs_per_op_all",
        "msgs_per_op_servers",
        "latency_p50_ms",
        "latency_p99_ms",
    ]
]

# %% [markdown]
# `msgs_per_op_servers` counts every message that does not involve a client: node to node,
# and node to the `lin-kv` service; `msgs_per_op_all` adds the clients' requests and replies.
# The cas-based log pays service round trips per send (read the counter, cas it, retry on
# every conflict); the owner-based log forwards a send at most once, and sends nothing for the
# keys a node owns itself.
#
# ## 2. A crash that loses acknowledged writes
#
# glome's `kill` fault kills a node (no shutdown hook runs, memory is gone) and restarts it
# later; the kafka clients keep going through it. A node that keeps its log only in memory
# comes back empty, numbers new messages from offset 0 again, and the messages it had
# acknowledged are gone.


# %%
def crash_run(node, node_count: int = 1):
    """20 s at 20 sends/s, a kill or restart every ~5 s, 1 s of recovery before final polls."""
    return run(
        node,
        workload="kafka",
        node_count=node_count,
        concurrency=2,
        time_limit=20,
        rate=20,
        nemesis="kill",
        nemesis_interval=5,
        recovery_time=1,
        seed=5,
    )


memory = crash_run(SingleNodeKafka)
w = memory.results["workload"]
print(memory)
print("bad error types:", [str(t) for t in w["bad-error-types"]])

# %% [markdown]
# When were the kills, and what had been acknowledged before each one? The nemesis ops are in
# the history as `info` pairs on process `"nemesis"`:

# %%
faults = [
    (op["time"] / 1e9, op["f"])
    for op in memory.history
    if op["process"] == "nemesis" and op["type"] == "info" and isinstance(op["value"], dict)
]
print("faults (s, what):", [(round(t, 2), f) for t, f in faults])

lost = pd.DataFrame(
    {
        "key": e["key"],
        "message": e["value"],
        "acknowledged at (s)": e["writer"].value["time"] / 1e9,
        "offset it was given": e["writer"].value["value"][0][2][0],
    }
    for e in w["lost-write"]["errs"]
)
lost

# %% [markdown]
# Each of these sends got `send_ok` with an offset, *before* a kill; after the restart the
# node had no trace of them. The same offsets were then handed to new messages, which is why
# the checker also reports `inconsistent-offsets`: offset 0 of a key held two different
# messages over the run.

# %%
pd.DataFrame(w["inconsistent-offsets"]["errs"]).assign(
    values=lambda df: df["values"].map(sorted)
).head()

# %% [markdown]
# The rate of successful operations over time, with the kills marked, shows the outages:

# %%
loaded = analysis.load(memory.store_path)
fig, ax = plt.subplots(figsize=(10, 3.5))
analysis.plot_rate(loaded, ax=ax)
for t, f in faults:
    ax.axvline(t, color="tab:red" if f == "kill" else "tab:green", ls="--", lw=1)
ax.set_title("SingleNodeKafka under kill: red = kill, green = restart")
fig.tight_layout()

# %% [markdown]
# glome-rs's replicated log (`StaticLeaderKafka`) is no better: the leader holds the log in
# memory, so killing it loses what it had acknowledged too. `RaftKafka` writes every entry to
# a sqlite write-ahead log and fsyncs it *before* acknowledging; on restart it replays the
# log. Same seed, same kills:

# %%
rows = []
for label, node, count in (
    ("SingleNodeKafka (memory)", SingleNodeKafka, 1),
    ("StaticLeaderKafka (memory, 2 nodes)", StaticLeaderKafka, 2),
    ("RaftKafka (WAL, 1 node)", RaftKafka, 1),
    ("RaftKafka (WAL, 2 nodes)", RaftKafka, 2),
):
    r = memory if node is SingleNodeKafka else crash_run(node, count)
    wl = r.results["workload"]
    rows.append(
        {
            "node": label,
            "valid?": r.valid,
            "lost writes": wl.get("lost-write", {}).get("count", 0),
            "bad error types": [str(t) for t in wl["bad-error-types"]],
            "sends ok": sum(op["type"] == "ok" and op["f"] == "send" for op in r.history),
            "store": r.store_path,
        }
    )
crash_table = pd.DataFrame(rows)
crash_table.drop(columns="store")

# %% [markdown]
# The log survives the crash because it is on disk: each node's state directory is inside
# the run's store directory.

# %%
raft_store = crash_table.loc[crash_table["node"] == "RaftKafka (WAL, 1 node)", "store"].item()
sorted(str(p.relative_to(raft_store)) for p in (raft_store / "state").rglob("*") if p.is_file())

# %% [markdown]
# ## 3. The grade
#
# Challenge 5c's official command (2 nodes, 20 s, 1000 ops/s) for the owner-based log. 5c has
# no numeric target; the grader reports msgs-per-op and availability for comparison with 5b.

# %%
grade_node("5c", OwnerKafka)

# %% [markdown]
# Next: `06_transactions`, where the anomalies are cycles.
