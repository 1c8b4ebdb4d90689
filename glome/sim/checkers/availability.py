"""``:availability``: did enough client operations succeed? (Maelstrom's availability-checker)

``ok-fraction`` = ok completions / invocations of client ops (1 when nothing was invoked).
The target comes from ``--availability``: None checks nothing, ``"total"`` needs exactly 1,
a number ``a`` needs ``ok-fraction >= a``.
"""

from __future__ import annotations

from typing import Any

from glome.sim.checkers import History, client_ops, jfloat
from glome.sim.options import TestOptions

_UNSET: Any = object()


def parse_target(target: Any) -> str | float | None:
    """Normalise an availability target: None, ``"total"`` or a fraction in [0, 1]."""
    if target is None or target == "total":
        return None if target is None else "total"
    if isinstance(target, bool):
        raise ValueError(f"availability must be 'total' or a number in [0, 1], not {target!r}")
    try:
        fraction = float(target)
    except (TypeError, ValueError):
        raise ValueError(
            f"availability must be 'total' or a number in [0, 1], not {target!r}"
        ) from None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"availability must be in [0, 1], not {fraction}")
    return fraction


def check(
    history: History,
    opts: TestOptions | None = None,
    *,
    availability: Any = _UNSET,
    **_: Any,
) -> dict[str, Any]:
    """``{"valid?": bool, "ok-fraction": f}``; ``availability`` overrides ``opts.availability``."""
    if availability is _UNSET:
        availability = opts.availability if opts is not None else None
    target = parse_target(availability)
    ops = client_ops(history)
    invoke_count = sum(1 for op in ops if op.get("type") == "invoke")
    ok_count = sum(1 for op in ops if op.get("type") == "ok")
    # Maelstrom writes the integer 1 when nothing was invoked, else a single-precision float.
    fraction: int | float = 1 if invoke_count == 0 else jfloat(ok_count / invoke_count)
    if target is None:
        valid = True
    elif isinstance(target, float):
        valid = fraction >= target
    else:  # "total"
        valid = fraction == 1
    return {"valid?": valid, "ok-fraction": fraction}
