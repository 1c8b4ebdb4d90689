"""`load(path)`: one Maelstrom or glome store run as a :class:`Run` of lazy, cached frames.

A path may be a run directory (``store/<workload>/<timestamp>/``), a workload directory, a
``store/`` directory, or any directory holding a ``store/``; the last three resolve through a
``latest`` link when there is one, else to the newest timestamp directory inside.

Nothing is required: a crashed or unfinished run loads with whatever files exist, and
``run.missing`` / ``run.problems`` say plainly what is absent or broken.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from analysis import edn, frames
from analysis.jepsen_log import JepsenLog, parse_command_line, read_jepsen_log
from analysis.messages import MESSAGE_COLUMNS, read_journal, read_messages_svg
from analysis.values import UNKNOWN

__all__ = ["Run", "find_runs", "load", "resolve_run_dir"]

_TIMESTAMP = re.compile(r"^(\d{8}T\d{6})(?:\.(\d{3}))?(Z|[+-]\d{4})?$")
_RUN_FILES = ("results.edn", "history.edn", "jepsen.log", "test.json", "net-journal.jsonl")


def _timestamp(name: str) -> dt.datetime | None:
    """The instant a timestamp directory names (``20250421T094338.263+0530``), or None."""
    m = _TIMESTAMP.match(name)
    if m is None:
        return None
    zone = m.group(3) or "Z"
    stamp = f"{m.group(1)}.{m.group(2) or '000'}{'+0000' if zone == 'Z' else zone}"
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f%z")


def _is_run_dir(path: Path) -> bool:
    return path.is_dir() and (
        any((path / f).exists() for f in _RUN_FILES) or (path / "node-logs").is_dir()
    )


def find_runs(path: str | Path) -> list[Path]:
    """Every run directory at or below `path` (sorted by path), ignoring `latest` links."""
    root = Path(path)
    if _is_run_dir(root):
        return [root]
    found: list[Path] = []
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.name in ("latest", "current") or not child.is_dir():
            continue
        if child.name in ("independent", "node-logs", "elle"):
            continue
        found.extend(find_runs(child))
    return found


def resolve_run_dir(path: str | Path) -> Path:
    """The run directory `path` means (see the module docstring). Raises FileNotFoundError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    if not p.is_dir():
        raise NotADirectoryError(f"{p} is a file; give a run directory or a store/ directory")
    if _is_run_dir(p):
        return p
    latest = p / "latest"
    if latest.exists() and latest.is_dir():
        return resolve_run_dir(latest.resolve())
    if (p / "store").is_dir():
        return resolve_run_dir(p / "store")
    runs = [r for r in find_runs(p) if "independent" not in r.parts]
    if not runs:
        raise FileNotFoundError(
            f"{p} holds no run directory (no results.edn, history.edn or jepsen.log below it)"
        )

    def newest(r: Path) -> tuple[int, dt.datetime, str]:
        stamp = _timestamp(r.name)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (stamp is not None, stamp or epoch, str(r))

    return max(runs, key=newest)


def load(path: str | Path) -> Run:
    """Load the run at `path` (run, workload, store/ or parent-of-store directory)."""
    return Run(resolve_run_dir(path))


class Run:
    """One store run. Frames are computed on first access and cached.

    Attributes: `path`, `workload`, `started` (from the directory name), `options` (test.json,
    or the command line in jepsen.log), `missing` and `problems` (plain sentences), `crash_reason`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.missing: list[str] = []
        self.problems: list[str] = []
        self.started = _timestamp(path.name)
        self.workload: str | None = path.parent.name if self.started else None
        self.log: JepsenLog | None = None
        self.crash_reason: str | None = None
        self.options: dict[str, Any] = {}
        self._raw_history: list[dict[Any, Any]] | None = None
        self._results: dict[Any, Any] | None = None
        self._read_metadata()
        self._read_results()
        self._read_history()
        self._note_absent_pictures()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, valid={self.valid!r})"

    @property
    def name(self) -> str:
        """A short label: the workload and timestamp directory names."""
        return f"{self.path.parent.name}/{self.path.name}"

    # --- reading ---------------------------------------------------------------------------

    def _read_metadata(self) -> None:
        log_path = self.path / "jepsen.log"
        if log_path.exists():
            self.log = read_jepsen_log(log_path)
            self.options.update(self.log.options)
            if self.log.crashed:
                self.crash_reason = self.log.crash_reason
        test_json = self.path / "test.json"
        if test_json.exists():
            try:
                data = orjson.loads(test_json.read_bytes())
                if isinstance(data, dict):
                    self.options.update({str(k).replace("_", "-"): v for k, v in data.items()})
            except orjson.JSONDecodeError as err:
                self.problems.append(f"test.json is not valid JSON ({err}): options unknown")
        if self.log is None and not test_json.exists():
            self.missing.append(
                "jepsen.log is missing: no command line, verdict or crash report to read"
            )
        if isinstance(self.options.get("command-line"), str):
            self.options.update(parse_command_line(self.options["command-line"]))
        if self.workload is None and self.options.get("workload"):
            self.workload = str(self.options["workload"])

    def _read_results(self) -> None:
        path = self.path / "results.edn"
        if not path.exists():
            self.missing.append(f"results.edn is missing: {self._why_no_results()}")
            return
        text = path.read_text(errors="replace")
        if not text.strip():
            self.problems.append("results.edn is empty: no checker results")
            return
        try:
            value = edn.loads(text)
        except edn.EdnError as err:
            self.problems.append(f"results.edn could not be read ({err}): no checker results")
            return
        if not isinstance(value, dict):
            self.problems.append("results.edn does not hold a map: no checker results")
            return
        self._results = value

    def _why_no_results(self) -> str:
        log = self.log
        if log is None:
            return "the test did not finish analysis (and there is no jepsen.log to say why)"
        if log.crashed:
            return f"the test crashed before analysis: {log.crash_reason}"
        if log.last_message and log.last_message.startswith("Analyzing"):
            return "the test did not finish analysis (jepsen.log ends at 'Analyzing...')"
        return f"the test did not finish analysis (jepsen.log ends at {log.last_message!r})"

    def _read_history(self) -> None:
        path = self.path / "history.edn"
        if not path.exists():
            why = (
                "the test crashed before any operation"
                if self.crash_reason
                else ("no operations were recorded")
            )
            self.missing.append(f"history.edn is missing: {why}")
            self._raw_history = []
            return
        ops: list[dict[Any, Any]] = []
        for lineno, value in edn.loads_lines(path.read_text(errors="replace")):
            if isinstance(value, edn.EdnError):
                reason = str(value).removeprefix(f"line {lineno}: ")
                self.problems.append(f"history.edn line {lineno} is broken ({reason}): skipped")
            elif not isinstance(value, dict):
                self.problems.append(f"history.edn line {lineno} is not an op map: skipped")
            else:
                ops.append(value)
        self._raw_history = ops

    def _note_absent_pictures(self) -> None:
        if (
            not (self.path / "messages.svg").exists()
            and not (self.path / "net-journal.jsonl").exists()
            and self._raw_history
        ):
            self.missing.append(
                "messages.svg and net-journal.jsonl are missing: no per-message data "
                "(the messages frame is empty; net counts come from results.edn only)"
            )

    # --- raw data --------------------------------------------------------------------------

    @property
    def raw_results(self) -> dict[Any, Any] | None:
        """results.edn as parsed (keywords, tagged records), or None."""
        return self._results

    @property
    def raw_history(self) -> list[dict[Any, Any]]:
        """history.edn as parsed op maps (broken lines skipped)."""
        return self._raw_history or []

    @property
    def valid(self) -> bool | str | None:
        """True, False or "unknown" from results.edn (else jepsen.log's verdict), or None."""
        verdict = frames.overall_validity(self._results)
        if verdict is None and self.log is not None and self.log.verdict:
            verdicts: dict[str, bool | str] = {"valid": True, "invalid": False, "unknown": UNKNOWN}
            return verdicts[self.log.verdict]
        return verdict

    @property
    def end_s(self) -> float | None:
        """Time of the last history op, in seconds."""
        times = [float(op["time"]) for op in self.raw_history if op.get("time") is not None]
        return max(times) / 1e9 if times else None

    # --- frames ----------------------------------------------------------------------------

    @cached_property
    def history(self) -> pd.DataFrame:
        """history.edn, one row per line, every key a column."""
        return frames.history_frame(self.raw_history)

    @cached_property
    def ops(self) -> pd.DataFrame:
        """One row per operation (invoke paired with completion); see frames.ops_frame."""
        return frames.ops_frame(self.raw_history)

    @property
    def client_ops(self) -> pd.DataFrame:
        """`ops` without nemesis operations."""
        ops = self.ops
        return ops[~ops["nemesis"].astype(bool)]

    @cached_property
    def results(self) -> pd.DataFrame:
        """One row per checker: checker, valid (True/False/"unknown"), error."""
        return frames.checkers_frame(self._results)

    @cached_property
    def figures(self) -> dict[str, Any]:
        """Every scalar figure in results.edn by dotted path (e.g. "workload.lost-count")."""
        return frames.figures(self._results)

    @cached_property
    def net(self) -> pd.DataFrame:
        """Message counts (rows all/clients/servers) from results.edn or the journal."""
        # Maelstrom divides by the :invoke ops of client processes (final phase included).
        invokes = sum(
            1
            for op in self.raw_history
            if str(op.get("type")) == "invoke" and op.get("process") != frames.NEMESIS
        )
        journal = self.messages if (self.path / "net-journal.jsonl").exists() else None
        return frames.net_frame(self._results, journal, invokes)

    @cached_property
    def anomalies(self) -> pd.DataFrame:
        """One row per anomaly reported by the checkers (kind, key, details, invalidating)."""
        return frames.anomalies_frame(self._results)

    @cached_property
    def nemesis(self) -> pd.DataFrame:
        """Fault windows (fault, start_s, stop_s, target, detail)."""
        return frames.nemesis_frame(self.raw_history, self.end_s)

    @cached_property
    def messages(self) -> pd.DataFrame:
        """One row per message: from net-journal.jsonl, else from messages.svg, else empty."""
        journal = self.path / "net-journal.jsonl"
        svg = self.path / "messages.svg"
        if journal.exists():
            frame, problems = read_journal(journal)
        elif svg.exists():
            frame, problems = read_messages_svg(svg)
        else:
            return pd.DataFrame(columns=MESSAGE_COLUMNS)
        self.problems.extend(p for p in problems if p not in self.problems)
        return frame

    @cached_property
    def node_logs(self) -> pd.DataFrame:
        """One row per node-log line: node, line (1-based), text."""
        rows: list[dict[str, Any]] = []
        log_dir = self.path / "node-logs"
        if log_dir.is_dir():
            for f in sorted(log_dir.glob("*.log"), key=node_order):
                for i, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                    rows.append({"node": f.stem, "line": i, "text": line})
        return pd.DataFrame(rows, columns=["node", "line", "text"])

    @property
    def nodes(self) -> list[str]:
        """Node ids seen in node-logs, messages or the options, in natural order."""
        ids: set[str] = set()
        log_dir = self.path / "node-logs"
        if log_dir.is_dir():
            ids.update(f.stem for f in log_dir.glob("*.log"))
        if len(self.messages):
            for col in ("src", "dest"):
                ids.update(str(n) for n in self.messages[col] if str(n).startswith("n"))
        return sorted(ids, key=node_order)

    def summary(self) -> str:
        """A few plain lines: what ran, the verdict, the key figures, what is missing."""
        lines = [f"run      {self.path}"]
        opts = self.options
        if self.workload:
            described = ", ".join(
                f"{k} {opts[k]}"
                for k in ("node-count", "time-limit", "rate", "nemesis", "latency")
                if opts.get(k) is not None
            )
            lines.append(f"workload {self.workload}" + (f" ({described})" if described else ""))
        verdict = self.valid
        lines.append(f"valid?   {_verdict_text(verdict)}")
        if self._results:
            checks = self.results
            bad = checks[
                checks["valid"].map(lambda v: v is not True) & (checks["checker"] != "overall")
            ]
            for _, r in bad.iterrows():
                note = f" ({r['error'][:80]})" if isinstance(r["error"], str) else ""
                lines.append(f"  {r['checker']}: {_verdict_text(r['valid'])}{note}")
        client = self.client_ops
        if len(client):
            counts = client["type"].value_counts()
            lat = client["latency_ms"].dropna()
            lines.append(
                "ops      "
                + ", ".join(f"{counts[t]} {t}" for t in counts.index)
                + (
                    f"; latency median {lat.median():.1f} ms, p99 {lat.quantile(0.99):.1f} ms"
                    if len(lat)
                    else ""
                )
            )
        net = self.net
        if len(net):
            by = net.set_index("group")
            parts = [
                f"{g} {by.loc[g, 'msg_count']} msgs"
                + (
                    f" ({by.loc[g, 'msgs_per_op']:.2f}/op)"
                    if pd.notna(by.loc[g, "msgs_per_op"])
                    else ""
                )
                for g in by.index
            ]
            lines.append("net      " + ", ".join(parts))
        if len(self.anomalies):
            kinds = self.anomalies["kind"].value_counts()
            lines.append("anomalies " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
        if len(self.nemesis):
            lines.append(f"nemesis  {len(self.nemesis)} fault windows")
        lines.extend(f"missing  {m}" for m in self.missing)
        lines.extend(f"problem  {p}" for p in self.problems)
        return "\n".join(lines)


def _verdict_text(v: Any) -> str:
    return {True: "true", False: "false", UNKNOWN: "unknown", None: "not known"}.get(v, str(v))


def node_order(name: str | Path) -> tuple[str, int, str]:
    """Sort key for node ids: c2 < c10, n2 < n10, then names without a number (lin-kv...)."""
    stem = name.stem if isinstance(name, Path) else name
    m = re.match(r"^([a-z-]*)(\d+)$", stem)
    if m:
        return (m.group(1), int(m.group(2)), "")
    return (stem, -1, stem)
