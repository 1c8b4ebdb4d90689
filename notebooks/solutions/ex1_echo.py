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
