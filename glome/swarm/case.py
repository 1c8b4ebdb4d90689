"""One case of a swarm: what to run, how to run it, and the tidy row it becomes.

``run_case(case, store_dir=..., keep=...)`` runs one case in this process and returns its row
(a plain dict, small enough to send between processes): the verdict, the figures the grader
and the notebooks look at, the costs, where the store is and how to replay the run. It never
raises for a run that goes wrong: an exception, an aborted run or a bad node spec is a row
with ``error`` set. The executors (``glome.swarm.executors``) only decide *where* it runs.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import resource
import shlex
import shutil
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glome.swarm.figures import run_figures

KEEP_CHOICES = ("failing", "all", "none")


@dataclass(frozen=True)
class Case:
    """One run: a node under test, ``glome.sim.run`` options, a seed, and row labels.

    ``options`` are keyword options of ``glome.sim.run`` without ``seed`` (what
    ``glome.cli.run_keywords`` returns for a flag list). ``node`` is ``"module:Class"``,
    ``"path/to/file.py:Name"`` or a Node class object (a class defined in a notebook needs the
    fork-based local pool or serial runs); ``bin`` a binary and its arguments (real time).
    ``judge`` names a challenge check, ``(challenge id, check index)``, whose criteria are
    measured where the run happens, so the results map never travels. ``sandbox``: run the
    case in a sandboxed child process (``glome.sandbox.Sandbox``).
    """

    seed: int
    options: Mapping[str, Any]
    node: str | type | None = None
    bin: tuple[str, ...] | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)
    sandbox: Any = None
    judge: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        if (self.node is None) == (self.bin is None):
            raise ValueError("a Case needs exactly one of node= or bin=")
        if "seed" in self.options:
            raise ValueError("give the seed as Case.seed, not in options")

    @property
    def node_spec(self) -> str:
        """The node as text: its import path, or the binary's command line."""
        if self.bin is not None:
            return shlex.join(self.bin)
        if isinstance(self.node, str):
            return self.node
        assert isinstance(self.node, type)
        return f"{self.node.__module__}:{self.node.__qualname__}"

    def to_json(self) -> dict[str, Any]:
        """The case as JSON (for a sandboxed child); the node must be given as text."""
        if self.node is not None and not isinstance(self.node, str):
            raise ValueError(
                "a sandboxed case needs its node as 'module:Class' or 'file.py:Class' text, "
                f"not the class object {self.node!r}"
            )
        return {
            "seed": self.seed,
            "options": dict(self.options),
            "node": self.node,
            "bin": list(self.bin) if self.bin is not None else None,
            "labels": dict(self.labels),
            "judge": list(self.judge) if self.judge is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Case:
        options = dict(data["options"])
        for key in ("consistency_models",):  # JSON has no tuples; TestOptions wants one
            if isinstance(options.get(key), list):
                options[key] = tuple(options[key])
        judge = data.get("judge")
        return cls(
            seed=int(data["seed"]),
            options=options,
            node=data.get("node"),
            bin=tuple(data["bin"]) if data.get("bin") is not None else None,
            labels=dict(data.get("labels") or {}),
            judge=(str(judge[0]), int(judge[1])) if judge else None,
        )


def load_node(spec: str | type) -> type:
    """A Node class from ``"module:Class"``, ``"path/file.py:Class"`` or the class itself."""
    from glome.runtime.loader import load_node_class
    from glome.runtime.node import Node

    if isinstance(spec, type):
        return spec
    where, _, name = spec.rpartition(":")
    if where.endswith(".py"):
        path = Path(where)
        module_spec = importlib.util.spec_from_file_location(f"glome_case_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {where}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        obj = getattr(module, name, None)
        if not (isinstance(obj, type) and issubclass(obj, Node)):
            raise ValueError(f"{spec!r} does not name a glome Node subclass")
        return obj
    return load_node_class(spec)


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _cpu_seconds() -> float:
    """CPU of this process and of its reaped children (the node processes of a --bin run)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def empty_row(case: Case, error: str) -> dict[str, Any]:
    """The row of a case that produced no run (a crash, a hang, a lost worker)."""
    return {
        "seed": case.seed,
        "valid": "unknown",
        "passed": False,
        "error": error,
        "node": case.node_spec,
        "replay": replay_command(case),
        "store": None,
        **dict(case.labels),
    }


def run_case(
    case: Case,
    *,
    store_dir: str | Path = "store",
    keep: str = "failing",
    wall_budget: float | None = None,
) -> dict[str, Any]:
    """Run ``case`` here and return its row (see the module docstring)."""
    from glome.sim import build_options, run_options

    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}, not {keep!r}")
    wall_begin, cpu_begin = time.perf_counter(), _cpu_seconds()
    row = empty_row(case, "")
    try:
        opts = build_options(**{**case.options, "seed": case.seed})
        node = load_node(case.node) if case.node is not None else None
        result = run_options(
            opts,
            node=node,
            bin=list(case.bin) if case.bin is not None else None,
            store_dir=store_dir,
            argv=shlex.split(row["replay"]) if row["replay"].startswith("glome ") else None,
            wall_budget=wall_budget,
        )
    except Exception as e:  # a bad node spec, a node that broke the runner: a row, not a raise
        last = traceback.extract_tb(e.__traceback__)[-1:]
        where = f" at {last[0].filename}:{last[0].lineno}" if last else ""
        row["error"] = f"{type(e).__name__}: {e}{where}"
        row["wall_s"] = time.perf_counter() - wall_begin
        row["cpu_s"] = _cpu_seconds() - cpu_begin
        return row
    row.update(run_figures(result.results, result.history))
    row["valid"] = _valid_text(result.valid)
    row["error"] = result.error
    if case.judge is not None:
        from glome.challenges import judge_columns

        row.update(judge_columns(case.judge, result.results or {}))
    criteria_ok = all(v is not False for k, v in row.items() if k.endswith(" ok"))
    row["passed"] = result.error is None and result.valid is True and criteria_ok
    store = Path(result.store_path)
    row["history_sha256"] = _sha256(store / "history.edn")
    row["journal_sha256"] = _sha256(store / "net-journal.jsonl")
    if keep == "all" or (keep == "failing" and not row["passed"]):
        row["store"] = str(store)
    else:
        discard_store(store)
        row["store"] = None
    row["wall_s"] = time.perf_counter() - wall_begin
    row["cpu_s"] = _cpu_seconds() - cpu_begin
    return row


def discard_store(store: Path) -> None:
    """Delete a run's store and the ``latest`` links that name it.

    The store made ``<root>/latest`` and ``<root>/<workload>/latest`` point at itself; left
    alone they would dangle, and tools that copy the folder (nbgrader among them) fail on a
    dangling link. A link another run has re-pointed since is left as it is. Only a run can
    point a link at its own store, and it did so before it started, so once the store is gone
    no link to it can reappear: at worst a concurrent run's fresh link is removed between the
    check and the unlink (it is then missing, never dangling).
    """
    target = store.resolve()
    shutil.rmtree(store, ignore_errors=True)
    for link in (store.parent / "latest", store.parent.parent / "latest"):
        if link.is_symlink() and link.resolve() == target:
            link.unlink(missing_ok=True)


def _valid_text(valid: Any) -> str:
    if valid is True:
        return "true"
    if valid is False:
        return "false"
    return "unknown"


# -- replay commands -------------------------------------------------------------------------

_FLAG_NAMES = {"workload": "-w", "nodes": "--nodes"}


def changed_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options that differ from ``glome test``'s defaults (seed and binary args left out)."""
    from glome.flags import run_keywords

    defaults = run_keywords([])
    return {
        key: value
        for key, value in options.items()
        if key not in ("seed", "extra_args") and value != defaults.get(key, object())
    }


def flags_for(options: Mapping[str, Any]) -> list[str]:
    """``glome test`` flags that give ``options`` back (only those differing from defaults)."""
    flags: list[str] = []
    for key, value in changed_options(options).items():
        flag = _FLAG_NAMES.get(key, "--" + key.replace("_", "-"))
        if isinstance(value, bool):
            flags += [flag] if value else []
        elif key == "consistency_models":
            flags += [flag, " , ".join(value)]
        elif key == "nodes":
            flags += [flag, ",".join(value)]
        elif isinstance(value, list | tuple):
            flags += [flag, ",".join(str(v) for v in value)]
        elif value is not None:
            flags += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return flags


def replay_command(case: Case) -> str:
    """One shell line that replays ``case`` (a Python call for a class with no import path)."""
    if "replay" in case.labels:
        return str(case.labels["replay"])
    flags = flags_for(case.options)
    extra = list(case.options.get("extra_args") or [])
    if case.bin is not None:
        return shlex.join(
            ["glome", "test", *flags, "--seed", str(case.seed), "--bin", *case.bin, *extra]
        )
    spec = case.node_spec
    if spec.startswith("__main__:") or "<locals>" in spec:
        keywords = ", ".join(f"{k}={v!r}" for k, v in changed_options(case.options).items())
        name = getattr(case.node, "__name__", spec.rpartition(".")[2])
        return f"glome.sim.run({name}, {keywords}, seed={case.seed})"
    return shlex.join(["glome", "test", "--node", spec, *flags, "--seed", str(case.seed)])
