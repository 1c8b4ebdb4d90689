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
# # Exercise 1: echo (warm-up)
#
# Write a node that answers every `echo` request with an `echo_ok` carrying the same `echo`
# value. Fill in the cell marked **YOUR CODE**, run every cell, and read the grade at the
# bottom. (Notebook `00_introduction` shows the protocol; `01_echo` shows what the grader
# reports.)
#
# A handler receives a `Message`: `msg.body` is the request's body, a dict such as
# `{"type": "echo", "msg_id": 1, "echo": "hello"}`. Return the reply body (a dict) and the
# runtime sends it, adding `in_reply_to` for you.

# %%
from typing import Any

from glome.classroom import grade_exercise
from glome.runtime import Message, Node, handler


# %% tags=["exercise"]
# YOUR CODE: answer each echo request.
class MyEcho(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        raise NotImplementedError("reply with type echo_ok and the same echo value")


# %% [markdown]
# ## Grade
#
# This runs challenge 1's official command (`--node-count 1 --time-limit 10`) in-process on
# several seeds and judges each run. A failing grade says, per failing seed, what was expected
# and what your node did, and gives the line that replays that seed.

# %%
grade_echo = grade_exercise("ex1_echo", MyEcho)
grade_echo
