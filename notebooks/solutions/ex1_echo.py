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
# # Solutions to exercise 1 (for teachers)
#
# Each cell tagged `solution` replaces, in order, the cell tagged `exercise` in
# `exercises/ex1_echo.py` (tests/test_notebooks.py does exactly that).

# %%
from typing import Any

from glome.runtime import Message, Node, handler


# %% tags=["solution"]
class MyEcho(Node):
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": msg.body.get("echo")}


# %% [markdown]
# ## A known mistake (partial points)
#
# The cell tagged `buggy` is a wrong answer the nbgrader tests grade for partial points: it
# answers every request, but with the request's whole body instead of its `echo` value.


# %% tags=["buggy"]
class MyEcho(Node):  # noqa: F811 (the buggy twin of the solution above)
    @handler("echo")
    def echo(self, msg: Message) -> dict[str, Any]:
        return {"type": "echo_ok", "echo": dict(msg.body)}
