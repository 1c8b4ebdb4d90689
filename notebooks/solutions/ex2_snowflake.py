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
# # Solutions to exercise 2 (for teachers)
#
# Each cell tagged `solution` replaces, in order, the cell tagged `exercise` in
# `exercises/ex2_snowflake.py`. glome's own version, with the reasoning behind each choice,
# is `glome.nodes.unique_ids.SnowflakeGenerator`.

# %%
EPOCH_MS = 1_577_836_800_000
NODE_BITS = 10
SEQ_BITS = 12


# %% tags=["solution"]
def node_index(node_id: str, node_ids: list[str]) -> int:
    ordered = sorted(node_ids)
    if len(ordered) > 1 << NODE_BITS:
        raise ValueError(f"{len(ordered)} nodes do not fit in {NODE_BITS} bits")
    return ordered.index(node_id)


# %% tags=["solution"]
class IdGenerator:
    def __init__(self, index: int) -> None:
        self.index = index
        self.last_ms = -1
        self.seq = 0

    def next_id(self, wall_ms: int) -> int | None:
        ms = max(wall_ms - EPOCH_MS, 0)
        if ms > self.last_ms:  # a new millisecond: the sequence starts over
            self.last_ms, self.seq = ms, 0
        elif self.seq < (1 << SEQ_BITS) - 1:  # same ms, or the clock went back: keep last_ms
            self.seq += 1
        else:  # 4096 ids in this ms already: the caller must wait
            return None
        return (self.last_ms << (NODE_BITS + SEQ_BITS)) | (self.index << SEQ_BITS) | self.seq


# %% [markdown]
# ## A known mistake (partial points)
#
# The cells tagged `buggy` replace the exercise cells for the nbgrader tests' partial-points
# submission: the generator is right, but every node believes it is node 0, so two nodes that
# issue an id in the same millisecond with the same sequence number issue the same id.


# %% tags=["buggy"]
def node_index(node_id: str, node_ids: list[str]) -> int:  # noqa: F811 (the buggy twin of the solution above)
    return 0


# %% tags=["buggy"]
class IdGenerator:  # noqa: F811 (the buggy twin of the solution above)
    def __init__(self, index: int) -> None:
        self.index = index
        self.last_ms = -1
        self.seq = 0

    def next_id(self, wall_ms: int) -> int | None:
        ms = max(wall_ms - EPOCH_MS, self.last_ms)
        self.seq = self.seq + 1 if ms == self.last_ms else 0
        self.last_ms = ms
        if self.seq >= 1 << SEQ_BITS:
            return None
        return (ms << (NODE_BITS + SEQ_BITS)) | (self.index << SEQ_BITS) | self.seq
