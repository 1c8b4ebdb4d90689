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
# # 08 Linearizability: lin-kv, seq-kv, and how a checker decides
#
# Maelstrom offers two key-value services that nodes may call: `lin-kv`, **linearizable**,
# and `seq-kv`, **sequentially consistent**. Challenge 4 uses `seq-kv`, challenge 5b
# `lin-kv`. Both answer `read`, `write` and `cas` (compare-and-set) the same way; the
# difference is *which* value a read may return:
#
# - **linearizable**: every operation appears to take effect at one instant between its
#   request and its reply. So a read returns the latest value written by any operation that
#   finished before the read began: no stale reads, ever;
# - **sequentially consistent**: the operations appear in one total order that respects each
#   client's own order, but not real time. A read may return an old value, as long as the
#   client never goes back to an older one than it has already seen.
#
# This notebook measures that difference, shows how a linearizability checker searches for a
# valid order, explains a real Maelstrom run that failed the check, and asks what it means for
# challenge 5b.

# %%
import itertools
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

import analysis
import glome
from glome.nodes.kafka import LinKVKafka
from glome.runtime import Message, Node, SeqKV, handler
from glome.runtime.kv import KV
from glome.sim import run
from glome.sim.checkers import linearizable

pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 100)

# %% [markdown]
# ## 1. The same node on lin-kv and on seq-kv
#
# Maelstrom's `lin-kv` *workload* tests a node that itself offers `read`, `write` and `cas`
# over many keys, and checks each key's history for linearizability. The simplest such node
# forwards every request to one of the services. Only the service's name differs:


# %%
class LinKVProxy(Node):
    """Forwards read, write and cas to a key-value service (lin-kv here)."""

    service = "lin-kv"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kv = KV(self, self.service, timeout=1.0)

    @handler("read")
    async def read(self, msg: Message) -> dict:
        return {"type": "read_ok", "value": await self.kv.read(msg.body["key"])}

    @handler("write")
    async def write(self, msg: Message) -> dict:
        await self.kv.write(msg.body["key"], msg.body["value"])
        return {"type": "write_ok"}

    @handler("cas")
    async def cas(self, msg: Message) -> dict:
        await self.kv.cas(msg.body["key"], msg.body["from"], msg.body["to"])
        return {"type": "cas_ok"}


class SeqKVProxy(LinKVProxy):
    """The same node on seq-kv."""

    service = "seq-kv"


# %% [markdown]
# The workload's errors 20 (no such key) and 22 (cas precondition failed) pass through as
# definite failures, as they should. Each proxy runs 2 nodes for 5 s at 20 operations per
# second, on seeds 1 to 10: a verdict on one seed would say little.

# %%
SEEDS = range(1, 11)


def lin_kv_run(node, seed: int):
    return run(
        node, workload="lin-kv", node_count=2, concurrency="2n", time_limit=5, rate=20, seed=seed
    )


proxy_runs = {
    (cls.__name__, s): lin_kv_run(cls, s) for cls in (LinKVProxy, SeqKVProxy) for s in SEEDS
}
verdicts = pd.DataFrame(
    {"node": name, "seed": seed, "valid": r.valid is True} for (name, seed), r in proxy_runs.items()
)
rates = verdicts.groupby("node")["valid"].agg(passed="sum", runs="size")
rates["failing seeds"] = [
    list(verdicts[(verdicts["node"] == n) & ~verdicts["valid"]]["seed"]) for n in rates.index
]
rates

# %%
seq_failing = rates.loc["SeqKVProxy", "failing seeds"]
assert rates.loc["LinKVProxy", "passed"] == len(SEEDS) and seq_failing  # the claims below
replay_seed = seq_failing[0]
Markdown(
    f"On lin-kv the proxy passes {rates.loc['LinKVProxy', 'passed']} of {len(SEEDS)} seeds; on "
    f"seq-kv it fails {len(seq_failing)} of {len(SEEDS)}. The smallest failing seed is "
    f"**{replay_seed}**; we replay it below to see what the checker found."
)

# %% [markdown]
# ## 2. A stale read, found by the checker
#
# The checker's report for an invalid key names the operation no valid order can explain
# (`op`), the last operation it could place before that (`previous-ok`), and the orders it
# tried (`final-paths`), each ending in the model's complaint.

# %%
stale = proxy_runs[("SeqKVProxy", replay_seed)]
report = stale.results["workload"]["results"]
bad_key = next(k for k, v in report.items() if v["valid?"] is False)
lin = report[bad_key]["linearizable"]
bad_op, previous = lin["op"], lin["previous-ok"]
pd.DataFrame(
    [
        {"role": "op (cannot be placed)", **{k: str(v) for k, v in bad_op.items()}},
        {"role": "previous-ok", **{k: str(v) for k, v in previous.items()}},
    ]
)

# %% [markdown]
# The history around it: every operation on that key, as a bar from request to reply, one
# row per client process. A read must return the value of the last write or successful cas
# that *finished before it started* (or of one still in flight).

# %%
history = analysis.load(stale.store_path).client_ops
history = history[history["invoke_value"].map(lambda v: v[0] == bad_key)]
window = history[
    (history["invoke_time_s"] <= bad_op["time"] / 1e9)
    & (history["complete_time_s"] >= bad_op["time"] / 1e9 - 0.4)
]


def op_text(row) -> str:
    if row.f == "read":
        return f"read {row.value[1] if row.type == 'ok' else '?'}"
    if row.f == "write":
        return f"write {row.invoke_value[1]}"
    return "cas {}->{}".format(*row.invoke_value[1])


colours = {"ok": "#2b83ba", "fail": "#bbbbbb", "info": "#fdae61"}
fig, ax = plt.subplots(figsize=(10, 0.8 + 0.5 * window["process"].nunique()))
rows = {p: i for i, p in enumerate(sorted(window["process"].unique()))}
for row in window.itertuples():
    y = rows[row.process]
    start, end = row.invoke_time_s, row.complete_time_s
    bad = row.type == "ok" and abs(end * 1e9 - bad_op["time"]) < 1 and row.f == "read"
    colour = "#d7191c" if bad else colours[row.type]
    # request to reply; in-process ops may take no simulated time, so the ends are markers
    ax.plot([start, end], [y, y], "-|", color=colour, lw=5, ms=12, solid_capstyle="butt")
    ax.annotate(
        f"{op_text(row)} ({row.type})",
        (end, y),
        textcoords="offset points",
        xytext=(4, 6),
        fontsize=8,
        color=colour if colour != "#bbbbbb" else "#777",
    )
ax.set_yticks(list(rows.values()), [f"process {p}" for p in rows])
ax.set_xlabel("time (s)")
span = window["complete_time_s"].max() - window["invoke_time_s"].min()
ax.set_xlim(
    window["invoke_time_s"].min() - 0.03 * span, window["complete_time_s"].max() + 0.15 * span
)
ax.set_ylim(-0.6, len(rows) - 0.2)
ax.set_title(
    f"SeqKVProxy, seed {replay_seed}, key {bad_key}: blue = ok, red = the read no order "
    "explains, grey = failed (did not happen)",
    fontsize=10,
)
fig.tight_layout()

# %%
read_row = history[
    (history["f"] == "read") & ((history["complete_time_s"] * 1e9 - bad_op["time"]).abs() < 1)
].iloc[0]
writes_before = history[
    (history["type"] == "ok")
    & (history["f"] != "read")
    & (history["complete_time_s"] < read_row["invoke_time_s"])
]
last_write = writes_before.sort_values("complete_time_s").iloc[-1]
latest = (
    last_write["invoke_value"][1]
    if last_write["f"] == "write"
    else last_write["invoke_value"][1][1]
)
Markdown(
    f"The red read returned **{bad_op['value']}**, but the last write or cas to finish before "
    f"the read began was `{op_text(last_write)}` (process {last_write['process']}), which "
    f"left **{latest}**. seq-kv may serve a read from an older state; lin-kv may not. The "
    "node did nothing wrong; it inherited the service's promise, and a promise can only be "
    "passed on, not strengthened, by forwarding."
)

# %% [markdown]
# ### How stale can seq-kv be?
#
# Every reply the seq-kv service sent is in the message journal. For each ok read served by
# the service, compare its value with the value the key held at that moment (the last write
# or cas the service applied before answering):


# %%
def service_staleness(r) -> pd.DataFrame:
    """Per read the service answered: the value returned and the key's newest value then."""
    m = analysis.load(r.store_path).messages
    m = m[(m["src"] == "seq-kv") | (m["dest"] == "seq-kv")].sort_values("send_time_s")
    requests = {}
    newest = {}
    rows = []
    for src, body, t in zip(m["src"], m["body"], m["send_time_s"], strict=True):
        if src != "seq-kv":
            requests[body["msg_id"]] = body
            continue
        request = requests.get(body.get("in_reply_to"), {})
        key = request.get("key")
        if body["type"] == "write_ok":
            newest[key] = request["value"]
        elif body["type"] == "cas_ok":
            newest[key] = request["to"]
        elif body["type"] == "read_ok":
            rows.append(
                {"time_s": t, "key": key, "returned": body["value"], "newest": newest.get(key)}
            )
    return pd.DataFrame(rows)


reads = pd.concat(service_staleness(proxy_runs[("SeqKVProxy", s)]) for s in SEEDS)
reads["stale"] = reads["returned"] != reads["newest"]
stale_share = reads["stale"].mean()
assert 0 < stale_share < 1  # the claim below: some, not all, reads are stale
Markdown(
    f"Over the {len(SEEDS)} seq-kv runs the service answered {len(reads):,} reads; "
    f"{int(reads['stale'].sum()):,} of them ({stale_share:.0%}) returned a value older than the "
    "key's newest. (glome's seq-kv picks the state it reads from at random among the recent "
    "ones no older than what that caller has already seen; a write or cas always applies to "
    "the newest.)"
)

# %% [markdown]
# ## 3. How a linearizability checker searches
#
# A history is linearizable if there is an order of its operations that (1) respects real
# time: if A's reply came before B's request, A comes first; and (2) is legal for a
# single-copy register: each read returns the value of the write before it. Operations that
# overlap in time may go in either order, so the checker *searches*. Take a small history of
# one key, three clients, all ok:

# %%
small = [
    # (process, f, value, invoke time, complete time); cas value is [from, to]
    ("A", "write", 1, 0, 2),
    ("B", "cas", [1, 2], 1, 5),
    ("C", "read", 1, 3, 4),
    ("A", "read", 2, 6, 7),
    ("C", "read", 2, 6.5, 8),
]
pd.DataFrame(small, columns=["process", "f", "value", "invoked", "completed"])


# %% [markdown]
# A depth-first search, the idea behind the Wing-Gong-Lowe algorithm that glome's checker
# uses: at each step, the candidates are the operations not yet placed whose request came
# before every unplaced operation's reply (no one else *must* go first); try each, apply it
# to the register, and backtrack when the register says no.


# %%
def apply(register, op):
    """The register after `op`, or None if `op` cannot happen in this state."""
    _, f, value, _, _ = op
    if f == "write":
        return value
    if f == "cas":
        return value[1] if register == value[0] else None
    return register if register == value else None  # a read must see the current value


def search(history, placed=(), register=None, depth=0, trace=None):
    """Print every step; return a valid order or None."""
    left = [op for op in history if op not in placed]
    if not left:
        return list(placed)
    deadline = min(op[4] for op in left)  # some unplaced op must be placed before this
    for op in [op for op in left if op[3] < deadline]:
        after = apply(register, op)
        name = f"{op[0]}:{op[1]} {op[2]}"
        ok = after is not None
        trace.append(
            "  " * depth + f"{name:<16} register {register} -> {after if ok else 'illegal'}"
        )
        if ok:
            found = search(history, (*placed, op), after, depth + 1, trace)
            if found:
                return found
    trace.append("  " * depth + "(dead end: back up)")
    return None


trace: list[str] = []
order = search(small, trace=trace)
print("\n".join(trace))
print("valid order:", None if order is None else [f"{p}:{f} {v}" for p, f, v, _, _ in order])

# %% [markdown]
# The search first tried B's cas right after the write (its request came first), found that
# C's read of 1 could then never happen, backed up, and placed the read first: the cas took
# effect later, though it was sent earlier. Now change one thing: C's second read returns 1,
# and it starts *after* A's read of 2 has finished. Nothing writes 1 again, so no order works:

# %%
broken = [*small[:-1], ("C", "read", 1, 7.5, 8)]
trace = []
order = search(broken, trace=trace)
print("\n".join(trace))
print("valid order:", order)


# %% [markdown]
# glome's checker (`glome.sim.checkers.linearizable`) does the same search with two things
# added: a cache of configurations already explored (the set of placed operations and the
# register value; Lowe's memoisation, which stops the search from exploring the same state
# twice) and a bound on the steps, past which it answers `unknown` instead of running forever.
# Operations that timed out (`info`) may take effect at any time after their request, or
# never. Fed the two small histories in Maelstrom's form, it agrees:


# %%
def as_history(ops) -> list[dict]:
    """Invocations and completions in time order; client processes are numbers (A = 0...)."""
    events = []
    for name, f, value, invoked, completed in ops:
        process = "ABC".index(name)
        read_value = None if f == "read" else value
        events.append(
            (invoked, {"process": process, "type": "invoke", "f": f, "value": read_value})
        )
        events.append((completed, {"process": process, "type": "ok", "f": f, "value": value}))
    events.sort(key=lambda e: e[0])
    return [{**op, "index": i, "time": int(t * 1e9)} for i, (t, op) in enumerate(events)]


checked = {
    name: linearizable.check_register(as_history(ops))
    for name, ops in (("small", small), ("broken", broken))
}
assert checked["small"]["valid?"] is True and checked["broken"]["valid?"] is False
{name: {"valid?": r["valid?"], "op": r.get("op")} for name, r in checked.items()}

# %% [markdown]
# ## 4. A real Maelstrom run that failed the check
#
# The corpus of real Maelstrom runs next to this checkout (`../shared/maelstrom-runs`, or the
# folder `GLOME_CORPUS` names) holds a lin-kv run, on one node, that Maelstrom judged not
# linearizable. It is read here with `analysis.load`, like any store directory; without the
# corpus this section says so and moves on.


# %%
def find_corpus() -> Path | None:
    if os.environ.get("GLOME_CORPUS"):
        return Path(os.environ["GLOME_CORPUS"])
    for parent in Path(glome.__file__).resolve().parents:
        if (parent / "shared" / "maelstrom-runs").is_dir():
            return parent / "shared" / "maelstrom-runs"
    return None


corpus = find_corpus()
real_dir = corpus / "lin-kv-1node-nonlinearizable" if corpus else None
real = analysis.load(analysis.find_runs(real_dir)[0]) if real_dir and real_dir.is_dir() else None
if real is None:
    display(Markdown("*No corpus here: the real run cannot be shown. Everything else stands.*"))
else:
    print(real.summary())
    display(real.anomalies[["kind", "key", "invalidating"]])

# %%
if real is not None:
    found = real.anomalies.iloc[0]["details"]
    rop, prev = found["op"], found["previous-ok"]
    assert isinstance(rop["value"], str) and not isinstance(prev["value"], str)  # see below
    display(
        Markdown(
            f"The checker could place every operation up to `{prev['f']} {prev['value']!r}` by "
            f"process {prev['process']}; the next reply, a `{rop['f']}` by process "
            f"{rop['process']}, returned `{rop['value']!r}`, and the model says "
            f"*{found['inconsistent'][0]}*. Look at the types: the write stored the number "
            f"{prev['value']!r}, the read returned the **string** {rop['value']!r}. The node "
            'returned the value as text, and to the checker, as in JSON, `4` and `"4"` are '
            "different values. Not a concurrency bug at all: a serialisation bug that a "
            "linearizability checker catches because it compares every value it is given."
        )
    )

# %% [markdown]
# ## 5. Why challenge 5b says lin-kv
#
# `LinKVKafka` (notebook 05) allocates offsets by `read` then `cas(n, n+1)` on a counter in
# lin-kv, and polls by reading offset slots until the first missing one. What happens on
# seq-kv? Swap the service and run both over the same seeds (2 nodes, 3 s, 200 ops/s):


# %%
class SeqKVKafka(LinKVKafka):
    """LinKVKafka with its state in seq-kv instead."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kv = SeqKV(self, timeout=self.kv_timeout)


KAFKA_SEEDS = range(1, 4)
kafka_rows = []
for cls, seed in itertools.product((LinKVKafka, SeqKVKafka), KAFKA_SEEDS):
    r = run(
        cls, workload="kafka", node_count=2, concurrency="2n", time_limit=3, rate=200, seed=seed
    )
    lag = r.results["workload"]["worst-realtime-lag"]
    kafka_rows.append(
        {
            "node": cls.__name__,
            "seed": seed,
            "valid?": r.valid,
            "failing checkers": [
                k for k, v in r.results.items() if isinstance(v, dict) and v.get("valid?") is False
            ],
            "worst realtime lag (s)": lag["lag"],
        }
    )
kafka_table = pd.DataFrame(kafka_rows)
kafka_table.pivot(
    index="seed", columns="node", values=["valid?", "failing checkers", "worst realtime lag (s)"]
)

# %%
by_node = kafka_table.groupby("node")
passed = by_node["valid?"].apply(lambda v: int((v == True).sum()))  # noqa: E712 (True, not truthy)
lag = by_node["worst realtime lag (s)"].max()
verdicts = (
    "the same verdicts" if passed["LinKVKafka"] == passed["SeqKVKafka"] else "different verdicts"
)
Markdown(
    f"`LinKVKafka` passes {passed['LinKVKafka']} of {len(KAFKA_SEEDS)} seeds and `SeqKVKafka` "
    f"{passed['SeqKVKafka']}: {verdicts} on these seeds (the table names any failing "
    "checker). Offsets come from `cas`, and a state change is never applied to a stale state (a "
    "cas whose `from` is stale fails and is retried), so two sends never get one offset on either "
    "service; and a poll that stops at the first missing slot never skips one. What seq-kv costs "
    "is recency: the worst *realtime lag* (how long a poll can miss a message that existed "
    f"before it began) is {lag['LinKVKafka']:.3f} s on lin-kv and {lag['SeqKVKafka']:.3f} s on "
    "seq-kv. The kafka checker reports the lag but does not fail on it.\n\n"
    "So why does the challenge say lin-kv? Because this design is safe on seq-kv only by care "
    "that is easy to get wrong, and lin-kv forgives more: with it, any read sees every write "
    "that finished before it. A node that *reads* the counter to decide which offsets exist "
    "and skips a missing slot, or that reads a committed offset and trusts it, gets stale "
    "answers from seq-kv. Section 1 showed the service-level difference directly: a proxy on "
    f"seq-kv fails linearizability on {len(seq_failing)} of {len(SEEDS)} seeds."
)


# %% [markdown]
# Next: back to `04_counter`, where seq-kv's staleness meets a counter, or on to the
# exercises.
