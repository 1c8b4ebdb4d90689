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
# # 01 Echo: the first challenge, graded
#
# Challenge 1 asks for a node that answers `{"type": "echo", "echo": X}` with
# `{"type": "echo_ok", "echo": X}`. It is a test of the plumbing: if the node parses, replies
# and names the request it answers, it passes. The official command is
#
# ```
# ./maelstrom test -w echo --bin <node> --node-count 1 --time-limit 10
# ```
#
# Here we grade glome's echo node, then break it in two instructive ways and read what the
# checker says about each.

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown

import analysis
from glome.challenges import DEFAULT_SEEDS
from glome.exercises import grade_node
from glome.nodes.echo import Echo
from glome.runtime import Message, Node, handler
from glome.sim import run

# %% [markdown]
# ## The grader
#
# `grade_node(challenge, NodeClass)` runs the challenge's official command line in-process and
# judges each of its criteria, like `glome challenge 1 --node glome.nodes.echo:Echo` does on
# the command line. For echo the only criterion is the checker's verdict, `valid?`.
#
# One run proves little: the flaws these notebooks teach show up on some seeds and not on
# others. So the grader runs every check on several seeds (spread over the machine's cores)
# and reports each criterion's pass rate and worst value; a node passes only if every run
# does.

# %%
grade = grade_node("1", Echo, seeds=5)
grade

# %%
Markdown(
    f"Here the notebooks grade on a few seeds ({grade.grade.runs['seed'].nunique()} for this "
    "one) to stay quick. `glome challenge ID` uses each challenge's default, chosen so that "
    "every flawed node glome ships fails in at least 99 of 100 invocations: "
    + ", ".join(f"{k}: {v}" for k, v in DEFAULT_SEEDS.items())
    + " seeds."
)

# %% [markdown]
# ## Broken on purpose, 1: a node that "normalises" its input
#
# A reply that is well formed but carries the wrong value is the simplest failure a checker
# catches. This node strips and lower-cases the text it echoes.


# %%
class TidyEcho(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict:
        return {"type": "echo_ok", "echo": str(msg.body["echo"]).strip().lower()}


tidy = run(TidyEcho, workload="echo", node_count=1, time_limit=10, seed=1)
print(tidy)
tidy.results["workload"]["errors"][:3]

# %% [markdown]
# The workload checker lists each operation whose reply did not echo its request:
# Maelstrom's own wording, `Expected a message with :echo ... But received ...`, since glome
# writes `results.edn` in Maelstrom's shape.
#
# ## Broken on purpose, 2: a node that sometimes does not answer
#
# A node that drops a request never tells the client anything. The client gives up after its
# timeout (5 s) and records the operation as `info`: *indeterminate*, since the request might
# have been applied. Is that a failure? Not for any checker by default: an unanswered echo is
# not a *wrong* echo, and `stats` only fails when some kind of operation never succeeds at all.


# %%
class ForgetfulEcho(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict | None:
        if self.rng.random() < 0.2:  # randomness from the runtime: replayable by seed
            return None  # no reply at all
        return {"type": "echo_ok", "echo": msg.body["echo"]}


forgetful = run(ForgetfulEcho, workload="echo", node_count=1, time_limit=20, rate=5, seed=1)
print(forgetful)
{k: forgetful.results[k]["valid?"] for k in ("workload", "stats", "availability")}

# %% [markdown]
# How many went unanswered? The node drops each request with probability 0.2; this run (seed
# 1) is one draw of that coin:

# %%
loaded = analysis.load(forgetful.store_path)
echoes = loaded.client_ops[loaded.client_ops["f"] == "echo"]
unanswered = int((echoes["type"] == "info").sum())
waits = echoes.loc[echoes["type"] == "info", "latency_ms"] / 1000
assert forgetful.valid and unanswered > 0  # the claim below: valid, yet some went unanswered
assert waits.round().eq(5).all()  # each of them waited out the 5 s timeout
Markdown(
    f"Valid, yet **{unanswered} of {len(echoes)}** requests ({unanswered / len(echoes):.0%}) "
    "went unanswered: the checker does not count timeouts against an echo server. (Only "
    f"{len(echoes)} requests in 20 s at 5 per second: the single client spent "
    f"{waits.sum():.0f} s waiting out timeouts.) The summary and the latency plot make the "
    "5-second timeouts plain:"
)

# %%
print(loaded.summary())
fig, ax = plt.subplots(figsize=(9, 3.5))
analysis.plot_latency(loaded, ax=ax)
ax.set_title("ForgetfulEcho: every unanswered request times out after 5 s")
fig.tight_layout()

# %% [markdown]
# Availability is a requirement you state: `--availability total` (used by challenges 2 and 6)
# demands that every operation succeed, and the same node and seed now fail:

# %%
strict = run(
    ForgetfulEcho,
    workload="echo",
    node_count=1,
    time_limit=20,
    rate=5,
    seed=1,
    availability="total",
)
print(strict)
strict.results["availability"]

# %% [markdown]
# Checkers judge what the system promised. A timeout is the one answer a client can never
# interpret, so later challenges care about it: a node may refuse (`fail`, a *definite* error
# such as a key that does not exist) and the client knows the request did not happen; after a
# timeout it cannot know.
#
# ## The grader on a broken node
#
# The grader reports the measured value against the target, what the checker found, and the
# run directory with the details.

# %%
grade_node("1", TidyEcho, seeds=5)

# %% [markdown]
# Next: `02_unique_ids`, where a node that is correct almost always is not good enough.
