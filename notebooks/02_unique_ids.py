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
# # 02 Unique ids: from "almost surely unique" to unique by construction
#
# Challenge 2: every `generate` request gets an id, and no two ids anywhere in the cluster may
# be equal. The test runs three nodes for 30 s at 1000 requests per second **with network
# partitions**, and demands total availability: every request must succeed even while a node
# is cut off. So the nodes cannot coordinate; each must mint ids alone.
#
# ```
# ./maelstrom test -w unique-ids --bin <node> --time-limit 30 --rate 1000 --node-count 3 \
#     --availability total --nemesis partition
# ```
#
# Three nodes from `glome.nodes.unique_ids`, naive to hardened:
#
# | node | idea | what goes wrong |
# |---|---|---|
# | `RandomIds` | a random 64-bit integer | nothing you will ever see at 64 bits; everything at 16 |
# | `ReviewSnowflakeIds` | time, hash of the node name, sequence (glome-rs after its review) | hash collisions, sequence overflow, clock steps back |
# | `SnowflakeIds` | time, node *index*, sequence, never backwards | nothing: unique by construction |

# %%
from collections import Counter
from itertools import accumulate, pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from glome.exercises import grade_node
from glome.nodes.unique_ids import (
    RandomIds,
    ReviewSnowflakeGenerator,
    ReviewSnowflakeIds,
    SnowflakeGenerator,
    SnowflakeIds,
    birthday_collision_probability,
    name_hash_10,
)
from glome.sim import run


def ids_of(result) -> list[int]:
    """The ids clients received, in the order they were acknowledged."""
    return [op["value"] for op in result.history if op["type"] == "ok" and op["f"] == "generate"]


# %% [markdown]
# ## 1. Random ids and the birthday problem
#
# Among `n` ids drawn uniformly from `2**b` values, the chance that two are equal is
# `1 - prod(1 - i / 2**b for i < n)`, about `1 - exp(-n**2 / 2**(b+1))`: the birthday problem.
# At 64 bits it is negligible for this challenge; the formula, for a few counts of ids:

# %%
pd.DataFrame(
    {
        "ids": [30_000, 1_000_000, 1_000_000_000, 5_000_000_000],
        "P(some duplicate), 64 bits": [
            birthday_collision_probability(n, 64)
            for n in (30_000, 1_000_000, 1_000_000_000, 5_000_000_000)
        ],
    }
).style.format({"ids": "{:,}", "P(some duplicate), 64 bits": "{:.2e}"})

# %% [markdown]
# "Negligible" is a claim we can test, not just compute: shrink the id to 16 bits, where the
# same formula predicts a duplicate among a few hundred ids, and count what the simulator
# actually produces. `RandomIds.with_bits(16)` is the same node drawing 16-bit ids.
#
# First, one run of about 3000 ids. For each prefix of the ids, count the pairs that are
# equal, and compare with the expected number of equal pairs, `n (n - 1) / 2 / 2**16`.

# %%
Random16 = RandomIds.with_bits(16)
narrow = run(Random16, workload="unique-ids", node_count=3, time_limit=3, rate=1000, seed=1)
ids = ids_of(narrow)
seen: Counter[int] = Counter()
new_pairs = []
for x in ids:
    new_pairs.append(seen[x])  # the k-th copy of a value makes k - 1 new equal pairs
    seen[x] += 1
pairs_so_far = list(accumulate(new_pairs))
n = np.arange(1, len(ids) + 1)
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(n, pairs_so_far, label="measured: equal pairs among the first n ids")
ax.plot(n, n * (n - 1) / 2 / 2**16, "--", label="expected: n(n-1) / 2 / 2**16")
ax.set_xlabel("ids generated (n)")
ax.set_ylabel("equal pairs")
ax.set_title("16-bit random ids: the birthday curve, measured")
ax.legend()
print(narrow)
print(f"{len(ids)} ids, {narrow.results['workload']['duplicated-count']} duplicated values")

# %% [markdown]
# The checker agrees: the run is invalid and `duplicated` lists the values handed out twice.
#
# Second, the probability itself. Forty short runs of about 300 ids each; the formula says
# each has about a one-in-two chance of containing a duplicate.

# %%
trials = [
    run(Random16, workload="unique-ids", node_count=3, time_limit=3, rate=100, seed=s)
    for s in range(40)
]
sizes = [len(ids_of(t)) for t in trials]
hit = [t.results["workload"]["duplicated-count"] > 0 for t in trials]
predicted = np.mean([birthday_collision_probability(k, 16) for k in sizes])
print(f"ids per run: {min(sizes)}..{max(sizes)}")
spread = 1.96 * np.sqrt(np.mean(hit) * (1 - np.mean(hit)) / len(hit))  # 95 % interval
print(
    f"runs with a duplicate: {sum(hit)} of {len(hit)} (measured {np.mean(hit):.2f} +- {spread:.2f})"
)
print(f"predicted by the birthday formula: {predicted:.2f}")

# %% [markdown]
# The formula holds at 16 bits, so we can trust it at 64: a random 64-bit id passes this
# challenge with overwhelming probability. What it cannot give is a *guarantee*, and nothing
# about it tells a reader of the code why ids are unique. The next two nodes try to make
# uniqueness structural.
#
# ## 2. The review's Snowflake, and its three flaws
#
# A Snowflake id packs `milliseconds | node bits | sequence`: two ids differ if they were
# minted in different milliseconds, by different nodes, or in sequence within one
# millisecond on one node. glome-rs's version (kept line for line in `ReviewSnowflakeGenerator`)
# fills the node bits with a 10-bit **hash** of the node's name. Three ways it hands out an id
# twice:
#
# **Flaw 1: two names, one hash.** 1024 slots fill up fast (the birthday problem again):

# %%
first_seen: dict[int, str] = {}
for i in range(100):
    name = f"n{i}"
    h = name_hash_10(name)
    if h in first_seen:
        print(f"name_hash_10({first_seen[h]!r}) == name_hash_10({name!r}) == {h}")
        clash = [first_seen[h], name]
        break
    first_seen[h] = name
print(
    f"P(a clash among 25 nodes, as in challenge 3d) = {birthday_collision_probability(25, 10):.0%}"
)

# %% [markdown]
# A cluster whose nodes are named `n4` and `n40` (any cluster of 41 or more nodes with
# Maelstrom's naming) mints identical ids whenever both nodes serve a request in the same
# millisecond. The simulator lets us name the nodes:

# %%
review = run(
    ReviewSnowflakeIds, workload="unique-ids", nodes=clash, time_limit=2, rate=1000, seed=1
)
hardened = run(SnowflakeIds, workload="unique-ids", nodes=clash, time_limit=2, rate=1000, seed=1)
for label, r in (("ReviewSnowflakeIds", review), ("SnowflakeIds", hardened)):
    w = r.results["workload"]
    print(
        f"{label:19} nodes {clash}: {w['acknowledged-count']} ids, {w['duplicated-count']} duplicated"
    )

# %% [markdown]
# **Flaw 2: more than 4096 ids in one millisecond.** The 12-bit sequence is incremented as a
# 16-bit integer and never masked, so the 4097th id of a millisecond carries into the node
# bits: it claims the node bits of whichever node hashes there. We call the generator
# directly, as a unit test would:

# %%
gen = ReviewSnowflakeGenerator("n1")
burst = [gen.generate(wall_ms=1_700_000_000_000) for _ in range(4097)]


def review_fields(x: int) -> tuple[int, int, int]:
    return x >> 22, (x >> 12) & 0x3FF, x & 0xFFF


print("id 4096:", review_fields(burst[4095]), " id 4097:", review_fields(burst[4096]))
print(
    f"node bits of n1 = {name_hash_10('n1')}; the 4097th id claims node bits {review_fields(burst[4096])[1]}"
)

# %% [markdown]
# **Flaw 3: the wall clock steps backwards** (NTP does this). The generator resets its
# sequence whenever the millisecond *differs* from the last one, so going back to a
# millisecond already used re-issues its ids:

# %%
gen = ReviewSnowflakeGenerator("n1")
before = [gen.generate(t) for t in (1000, 1000, 1001)]
after = [gen.generate(t) for t in (1000, 1000)]  # the clock stepped back 1 ms
print("before the step:", before)
print("after the step: ", after)
print("re-issued:", sorted(set(before) & set(after)))

# %% [markdown]
# ## 3. The fix: unique by construction
#
# `SnowflakeGenerator` (used by `SnowflakeIds`) changes three things:
#
# - the node bits are the node's **index** in the sorted `node_ids` that `init` delivers:
#   distinct by construction, the same on every node;
# - the timestamp is `max(wall clock, last timestamp)`: it never goes backwards;
# - when a millisecond's 4096 sequence numbers are used up, it **waits** one real millisecond
#   instead of wrapping (backpressure, never a duplicate).
#
# The same three scenarios:

# %%
gen = SnowflakeGenerator(node_index=1)
burst = [gen.try_next(1_700_000_000_000) for _ in range(4097)]
print("4097 ids in one ms:", sum(x is None for x in burst), "request(s) told to wait, no wrap")
gen = SnowflakeGenerator(node_index=1)
stepped = [
    gen.try_next(t)
    for t in (
        1_700_000_001_000,
        1_700_000_001_000,
        1_700_000_001_001,
        1_700_000_001_000,
        1_700_000_001_000,
    )
]
print("clock steps back: strictly increasing =", all(a < b for a, b in pairwise(stepped)))
print("decode(last id) = (wall ms, node index, sequence) =", SnowflakeGenerator.decode(stepped[-1]))

# %% [markdown]
# ## 4. The grade
#
# The official command is 3 nodes, 30 simulated seconds at 1000 requests per second,
# partitions, total availability required. Here it runs on 2 seeds, shortened to 10 s (the
# grade lists the override; `glome challenge 2 --node glome.nodes.unique_ids:SnowflakeIds`
# runs the full command on the challenge's default seeds).

# %%
grade = grade_node("2", SnowflakeIds, seeds=2, time_limit=10)
grade

# %% [markdown]
# And the naive node at 16 bits under the same command, for contrast: the grader names the
# failing criterion and the duplicates.

# %%
grade_node("2", Random16, seeds=2, time_limit=5)

# %% [markdown]
# Next: `03_broadcast`, where nodes must finally talk to each other.
