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
# # Exercise 2: Snowflake ids
#
# Challenge 2 wants ids unique across the cluster, even under partitions, so nodes cannot ask
# each other. You will build a **Snowflake** id, 63 bits packed as
#
# ```
# | 41 bits: ms since EPOCH_MS | 10 bits: node index | 12 bits: sequence |
# ```
#
# Two ids differ if they were made in different milliseconds, by different nodes, or one
# after the other on one node within a millisecond. Notebook `02_unique_ids` shows three
# ways a careless version repeats itself; your version must avoid all three:
#
# 1. the node bits must differ between nodes: use the node's **index** in the sorted list of
#    node ids (not a hash of its name);
# 2. at most 4096 ids per millisecond: when the sequence is used up, return `None` (the node
#    below then waits a millisecond and asks again) instead of letting it overflow;
# 3. the wall clock may step backwards: never use a timestamp smaller than the last one.
#
# Fill in the two cells marked **YOUR CODE**, run every cell, and read the grade at the bottom.

# %%
from itertools import pairwise

from glome.classroom import grade_exercise
from glome.runtime import Message, Node, handler

EPOCH_MS = 1_577_836_800_000  # 2020-01-01: 41 bits of ms last until 2089
NODE_BITS = 10
SEQ_BITS = 12


# %% tags=["exercise"]
# YOUR CODE (1 of 2): the node's index in the sorted node ids, e.g. ("n2", ["n1", "n2"]) -> 1.
def node_index(node_id: str, node_ids: list[str]) -> int:
    raise NotImplementedError("return the position of node_id in sorted(node_ids)")


# %% tags=["exercise"]
# YOUR CODE (2 of 2): the generator. next_id gets the wall clock in ms since 1970.
class IdGenerator:
    def __init__(self, index: int) -> None:
        self.index = index
        self.last_ms = -1  # the last timestamp used (ms since EPOCH_MS)
        self.seq = 0  # the last sequence number used within last_ms

    def next_id(self, wall_ms: int) -> int | None:
        """The next id, or None when this millisecond's 4096 ids are used up."""
        raise NotImplementedError("pack (ms since EPOCH_MS, index, sequence) into one int")


# %% [markdown]
# ## Quick checks (not graded)
#
# Three small experiments on your generator, one per pitfall. Each prints what it found.


# %%
def try_it(name, experiment):
    try:
        print(f"{name}: {experiment()}")
    except NotImplementedError as e:
        print(f"{name}: not written yet ({e})")
    except Exception as e:  # show the student's error without stopping the notebook
        print(f"{name}: raised {type(e).__name__}: {e}")


def burst():
    gen = IdGenerator(1)
    ids = [gen.next_id(1_700_000_000_000) for _ in range(5000)]
    issued = [i for i in ids if i is not None]
    return f"{len(issued)} ids issued, {len(set(issued))} distinct, {ids.count(None)} waits"


def two_nodes():
    a = IdGenerator(node_index("n0", ["n1", "n0"]))
    b = IdGenerator(node_index("n1", ["n1", "n0"]))
    ids = [g.next_id(1_700_000_000_000) for g in (a, b) for _ in range(100)]
    return f"indexes {a.index} and {b.index}; {len(set(ids))} distinct of {len(ids)}"


def clock_step_back():
    gen = IdGenerator(0)
    ids = [gen.next_id(t) for t in (1_700_000_000_005, 1_700_000_000_005, 1_700_000_000_001)]
    return f"ids {ids}; strictly increasing: {all(a < b for a, b in pairwise(ids))}"


try_it("5000 ids in one millisecond", burst)
try_it("two nodes, same millisecond", two_nodes)
try_it("clock steps back", clock_step_back)


# %% [markdown]
# ## The node (given)
#
# The node builds a generator at `init` and asks it for an id per request, sleeping one
# millisecond (on the simulator's clock) whenever the generator says `None`.


# %%
class MyIds(Node):
    async def on_init(self) -> None:
        self.gen = IdGenerator(node_index(self.id, self.node_ids))

    @handler("generate")
    async def generate(self, msg: Message) -> dict:
        issued = self.gen.next_id(self.wall_ms())
        for _ in range(1000):  # bounded: a correct generator needs one wait at most
            if issued is not None:
                break
            await self.sleep(0.001)
            issued = self.gen.next_id(self.wall_ms())
        if issued is None:
            raise RuntimeError("the generator returned None 1000 times in a row")
        return {"type": "generate_ok", "id": issued}


# %% [markdown]
# ## Grade
#
# Challenge 2's official command: 3 nodes, 30 s at 1000 requests per second, partitions, and
# total availability, on the challenge's default seeds. Each run costs a few CPU seconds, so
# the grade takes a minute or two.

# %%
grade_ids = grade_exercise("ex2_snowflake", MyIds)
grade_ids
