"""The echo workload's checker (docs/protocol.md#echo).

For each client invocation completed by ``:ok`` or ``:fail`` (``:info`` completions and
never-completed invocations are skipped), the completion value must be a map whose ``echo``
equals the invocation's value. A definite ``:fail`` carries the invocation's string as its
value, so it always counts as an error, as in Maelstrom.
"""

from __future__ import annotations

from typing import Any

from glome.edn import EdnList
from glome.sim.checkers import History, pairs
from glome.sim.options import TestOptions


def _echoed(value: Any) -> Any:
    """Clojure's ``(:echo value)``: the map's ``echo`` entry, nil for anything else."""
    return value.get("echo") if isinstance(value, dict) else None


def check(history: History, opts: TestOptions | None = None, **_: Any) -> dict[str, Any]:
    """``{"valid?": b, "errors": (["Expected a message with :echo" v "But received" c] ...)}``."""
    errors = EdnList()
    for invoke, done in pairs(history):
        if done is None or done.get("type") not in ("ok", "fail"):
            continue
        expected = invoke.get("value")
        if expected != _echoed(done.get("value")):
            errors.append(
                ["Expected a message with :echo", expected, "But received", done.get("value")]
            )
    return {"valid?": not errors, "errors": errors}
