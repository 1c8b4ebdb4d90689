"""The top-level results map: Maelstrom's composed checker (docs/protocol.md#the-results-map).

``check`` runs the generic checkers and the workload's checker over one history and returns
the map written to ``results.edn``, in Maelstrom's key order::

    {:perf .. :timeline .. :exceptions .. :stats .. :availability .. :net .. :workload ..
     :valid? ..}

A checker that raises becomes ``{:valid? :unknown :error "<traceback>"}`` (Maelstrom shows a
stack trace there too). The overall ``:valid?`` is ``merge_valid`` of the seven: false beats
unknown beats true.
"""

from __future__ import annotations

import traceback
from typing import Any

from glome.edn import UNKNOWN
from glome.sim.checkers import (
    Checker,
    History,
    availability,
    merge_valid,
    net,
    perf,
    stats,
    workload_checker,
)
from glome.sim.checkers.net import Journal
from glome.sim.options import TestOptions


def run_safely(checker: Checker, history: History, opts: TestOptions | None, **extra: Any) -> Any:
    """``checker(history, opts, **extra)``, or ``{:valid? :unknown :error <traceback>}``."""
    try:
        return checker(history, opts, **extra)
    except Exception:  # a checker bug or bad history must not lose the other results
        return {"valid?": UNKNOWN, "error": traceback.format_exc()}


def check(
    history: History,
    opts: TestOptions | None = None,
    *,
    workload: Checker | str | None = None,
    journal: Journal | None = None,
) -> dict[str, Any]:
    """The composed results map for one run.

    ``workload`` is a checker function, a workload name (``"broadcast"``), or None to use
    ``opts.workload``; ``journal`` is the message journal for ``:net`` (path or records).
    """
    history = list(history)
    if workload is None:
        if opts is None:
            raise ValueError("compose.check needs a workload checker or opts.workload")
        workload = opts.workload
    workload_fn = workload_checker(workload) if isinstance(workload, str) else workload

    results: dict[str, Any] = {
        "perf": run_safely(perf.check, history, opts),
        "timeline": run_safely(perf.check_timeline, history, opts),
        "exceptions": run_safely(stats.check_exceptions, history, opts),
        "stats": run_safely(stats.check, history, opts),
        "availability": run_safely(availability.check, history, opts),
        "net": run_safely(net.check, history, opts, journal=journal),
        "workload": run_safely(workload_fn, history, opts),
    }
    results["valid?"] = merge_valid(r.get("valid?") for r in results.values())
    return results
