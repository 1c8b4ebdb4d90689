"""Tidy DataFrames from a run's parsed files. Pure functions: data in, frame out.

Times: history times are ns since the run's relative origin; frames carry them as ``*_s``
(seconds, float) for plotting, and latencies as ``latency_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.edn import Tagged
from analysis.values import error_kind, merge_validity, plain, validity

NEMESIS = "nemesis"

OPS_COLUMNS = [
    "process",
    "f",
    "type",
    "invoke_value",
    "value",
    "error",
    "error_detail",
    "invoke_index",
    "complete_index",
    "invoke_time_s",
    "complete_time_s",
    "latency_ms",
    "final",
    "nemesis",
]


def _key(op: dict[Any, Any], name: str) -> Any:
    return op.get(name)


def _name(value: Any) -> Any:
    """A keyword or symbol as a plain str; anything else unchanged (ints stay ints)."""
    return str(value) if isinstance(value, str) else value


def history_frame(history: list[dict[Any, Any]]) -> pd.DataFrame:
    """One row per history line, every key a column, in file order.

    `type`, `f` and `process` are plain ``str``/``int``; values keep the reader's types
    (keywords are ``str`` subclasses, sets are frozensets), so nothing is deep-copied.
    """
    frame = pd.DataFrame([{str(k): v for k, v in op.items()} for op in history])
    for col in ("index", "time", "type", "process", "f", "value"):
        if col not in frame.columns:
            frame[col] = pd.Series(dtype=object)
    for col in ("type", "f", "process"):
        frame[col] = frame[col].map(_name)
    frame["time_s"] = frame["time"].astype(float) / 1e9
    return frame


def ops_frame(history: list[dict[Any, Any]]) -> pd.DataFrame:
    """One row per operation: each invoke paired with its process's next completion.

    `type` is the completion's type (ok, fail, info), or "incomplete" when the run ended before
    the op completed. `value` is the completion's value (the invoke's when incomplete). Nemesis
    ops (process "nemesis", two :info halves) are paired the same way and flagged `nemesis`.
    """
    pending: dict[Any, dict[Any, Any]] = {}
    rows: list[dict[str, Any]] = []

    def row(invoke: dict[Any, Any], done: dict[Any, Any] | None) -> dict[str, Any]:
        source = done if done is not None else invoke
        kind, detail = error_kind(source.get("error"))
        t0 = invoke.get("time")
        t1 = done.get("time") if done is not None else None
        process = _name(invoke.get("process"))
        return {
            "process": process,
            "f": _name(invoke.get("f")),
            "type": _name(done.get("type")) if done is not None else "incomplete",
            "invoke_value": invoke.get("value"),
            "value": source.get("value"),
            "error": kind,
            "error_detail": detail,
            "invoke_index": invoke.get("index"),
            "complete_index": done.get("index") if done is not None else None,
            "invoke_time_s": t0 / 1e9 if t0 is not None else None,
            "complete_time_s": t1 / 1e9 if t1 is not None else None,
            "latency_ms": (t1 - t0) / 1e6 if t0 is not None and t1 is not None else None,
            "final": bool(invoke.get("final?") or (done or {}).get("final?")),
            "nemesis": process == NEMESIS,
        }

    for op in history:
        process = op.get("process")
        kind = str(op.get("type"))
        if process == NEMESIS:
            # Nemesis ops are :info pairs: the first half opens, the next with the same f closes.
            opened = pending.pop(process, None)
            if opened is None:
                pending[process] = op
            else:
                rows.append(row(opened, op))
            continue
        if kind == "invoke":
            if process in pending:  # an invoke without completion: keep it, start afresh
                rows.append(row(pending.pop(process), None))
            pending[process] = op
        else:
            opened = pending.pop(process, None)
            if opened is not None:
                rows.append(row(opened, op))
            else:  # a completion without invoke (a history cut at the start): keep it alone
                rows.append(row(op, op) | {"latency_ms": None})
    rows.extend(row(op, None) for op in pending.values())
    frame = pd.DataFrame(rows, columns=OPS_COLUMNS)
    frame = frame.sort_values("invoke_index", kind="stable", na_position="last")
    frame = frame.reset_index(drop=True)
    for col in ("latency_ms", "invoke_time_s", "complete_time_s"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def nemesis_frame(history: list[dict[Any, Any]], end_s: float | None = None) -> pd.DataFrame:
    """Fault windows: one row per start..stop pair of nemesis ops (e.g. a partition).

    A window opens at the first half of a ``start-*`` op and closes at the completion of the
    matching ``stop-*`` op; a window still open at the end of the history closes at `end_s`.
    """
    rows: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    last_time = 0.0
    for op in history:
        raw_time = op.get("time")
        t = float(raw_time) if raw_time is not None else last_time * 1e9
        last_time = max(last_time, t / 1e9)
        if op.get("process") != NEMESIS:
            continue
        f = str(op.get("f"))
        action, _, fault = f.partition("-")
        if action == "start" and fault:
            if fault not in open_:
                open_[fault] = {
                    "fault": fault,
                    "start_s": t / 1e9,
                    "stop_s": None,
                    "target": plain(op.get("value")),
                    "detail": None,
                }
            elif open_[fault]["detail"] is None:  # the completion half carries the grudge
                open_[fault]["detail"] = plain(op.get("value"))
        elif action == "stop" and fault in open_:
            window = open_[fault]
            if window.get("stopping"):
                window.pop("stopping")
                window["stop_s"] = t / 1e9
                rows.append(window)
                del open_[fault]
            else:
                window["stopping"] = True
                window["stop_s"] = t / 1e9
    for window in open_.values():
        window.pop("stopping", None)
        window["stop_s"] = (
            window["stop_s"]
            if window["stop_s"] is not None
            else (end_s if end_s is not None else last_time)
        )
        rows.append(window)
    frame = pd.DataFrame(rows, columns=["fault", "start_s", "stop_s", "target", "detail"])
    return frame.sort_values("start_s").reset_index(drop=True)


# --- results.edn ---------------------------------------------------------------------------


def checkers_frame(results: dict[Any, Any] | None) -> pd.DataFrame:
    """One row per checker and sub-checker (perf.latency-graph, stats.by-f.read...): validity,
    the first line of its error if it threw, and its scalar figures (a dict by dotted name)."""
    rows: list[dict[str, Any]] = []
    if results:
        every = figures(results)
        for name, sub in results.items():
            if str(name) == "valid?" or not isinstance(sub, dict):
                continue
            rows.append(_checker_row(str(name), sub, every))
            for inner, sub2 in sub.items():
                if isinstance(sub2, dict) and "valid?" in sub2 and str(inner) != "results":
                    rows.append(_checker_row(f"{name}.{inner}", sub2, every))
            by_f = sub.get("by-f")
            if isinstance(by_f, dict):
                for f, sub2 in by_f.items():
                    if isinstance(sub2, dict):
                        rows.append(_checker_row(f"{name}.by-f.{f}", sub2, every))
        rows.append(
            {
                "checker": "overall",
                "valid": validity(results.get("valid?")),
                "error": None,
                "figures": {},
            }
        )
    return pd.DataFrame(rows, columns=["checker", "valid", "error", "figures"])


def _checker_row(name: str, sub: dict[Any, Any], every: dict[str, Any]) -> dict[str, Any]:
    prefix = name + "."
    own = {k[len(prefix) :]: v for k, v in every.items() if k.startswith(prefix)}
    error = sub.get("error")
    if error is not None and not isinstance(error, str):
        error = repr(plain(error))
    if isinstance(error, str):
        error = str(error).strip().splitlines()[0] if error.strip() else None
    return {"checker": name, "valid": validity(sub.get("valid?")), "error": error, "figures": own}


def figures(results: dict[Any, Any] | None) -> dict[str, Any]:
    """Every scalar in results.edn (and the length of every list or set), by dotted path.

    ``figures["net.servers.msgs-per-op"]``, ``figures["workload.lost-count"]``,
    ``figures["workload.stable-latencies.0.5"]``. Embedded ops and Knossos analyses are
    skipped: they are not figures.
    """
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, dict):
            if depth > 3:
                return
            for k, v in value.items():
                key = str(plain(k)) if not isinstance(k, float) or not k.is_integer() else str(k)
                walk(f"{prefix}.{key}" if prefix else key, v, depth + 1)
        elif isinstance(value, list | tuple | frozenset):
            out[f"{prefix}#"] = len(value)
        elif isinstance(value, bool | int | float) or value is None:
            out[prefix] = value
        elif isinstance(value, str):
            out[prefix] = validity(value) if prefix.endswith("valid?") else str(value)

    if results:
        for name, sub in results.items():
            if str(name) == "workload" and isinstance(sub, dict) and "results" in sub:
                # lin-kv: per-key Knossos output is analysis, not figures
                walk(str(name), {k: v for k, v in sub.items() if str(k) != "results"}, 1)
            else:
                walk(str(name), sub, 1)
    return out


def net_frame(
    results: dict[Any, Any] | None,
    journal: pd.DataFrame | None = None,
    invokes: int | None = None,
) -> pd.DataFrame:
    """Network counts: rows all/clients/servers, columns send/recv/msg counts, msgs-per-op.

    From results.edn's :net (either layout: ``{:all .. :clients .. :servers ..}`` or the 2021
    ``{:stats {...}}``); without it, counted from glome's message journal the way Maelstrom
    counts (clients = a client at either end; servers = everything else).
    """
    cols = ["group", "send_count", "recv_count", "msg_count", "msgs_per_op", "source"]
    net = (results or {}).get("net")
    if isinstance(net, dict):
        nested = net.get("stats")
        stats: dict[Any, Any] = nested if isinstance(nested, dict) else net
        rows = []
        for group in ("all", "clients", "servers"):
            g = stats.get(group)
            if isinstance(g, dict):
                rows.append(
                    {
                        "group": group,
                        "send_count": g.get("send-count"),
                        "recv_count": g.get("recv-count"),
                        "msg_count": g.get("msg-count"),
                        "msgs_per_op": g.get("msgs-per-op"),
                        "source": "results.edn",
                    }
                )
        if rows:
            return pd.DataFrame(rows, columns=cols)
    if journal is not None and "send_time_s" in journal.columns and len(journal):
        return _net_from_journal(journal, invokes, cols)
    return pd.DataFrame(columns=cols)


def _is_client(node: Any) -> bool:
    return isinstance(node, str) and node.startswith("c") and node[1:].isdigit()


def _net_from_journal(journal: pd.DataFrame, invokes: int | None, cols: list[str]) -> pd.DataFrame:
    client = journal["src"].map(_is_client) | journal["dest"].map(_is_client)
    delivered = journal["recv_time_s"].notna()
    rows = []
    for group, mask in (("all", client | ~client), ("clients", client), ("servers", ~client)):
        sent = int(mask.sum())
        per_op = sent / invokes if invokes and group != "clients" else None
        rows.append(
            {
                "group": group,
                "send_count": sent,
                "recv_count": int((mask & delivered).sum()),
                "msg_count": int(journal.loc[mask, "id"].nunique()),
                "msgs_per_op": per_op,
                "source": "net-journal.jsonl",
            }
        )
    return pd.DataFrame(rows, columns=cols)


# --- anomalies -----------------------------------------------------------------------------

ANOMALY_COLUMNS = ["checker", "kind", "key", "details", "invalidating"]


def anomalies_frame(results: dict[Any, Any] | None) -> pd.DataFrame:
    """One row per anomaly a checker reported: kind, key (element, id, key or txn), details.

    Covers broadcast/g-set (lost, stale, never-read, duplicated), unique-ids (duplicated),
    counters (final reads out of range), echo (mismatches), kafka (each error type), txn (each
    Elle anomaly), lin-kv (each non-linearizable key) and the exceptions checker.
    `invalidating` says whether that kind fails the test under Maelstrom's rules.
    """
    rows: list[dict[str, Any]] = []
    if not results:
        return pd.DataFrame(rows, columns=ANOMALY_COLUMNS)
    workload = results.get("workload")
    if isinstance(workload, dict):
        rows.extend(_workload_anomalies(workload))
    exceptions = results.get("exceptions")
    if isinstance(exceptions, dict):
        for exc in exceptions.get("exceptions") or []:
            rows.append(
                {
                    "checker": "exceptions",
                    "kind": "exception",
                    "key": plain(exc.get("class")),
                    "details": {"count": exc.get("count"), "example": plain(exc.get("example"))},
                    "invalidating": False,
                }
            )
    return pd.DataFrame(rows, columns=ANOMALY_COLUMNS)


def _op_value(op: Any) -> Any:
    """The :value of an embedded op (a #jepsen.history.Op record or a plain map)."""
    if isinstance(op, Tagged):
        op = op.value
    return op.get("value") if isinstance(op, dict) else None


def _row(kind: str, key: Any, details: Any, invalidating: bool) -> dict[str, Any]:
    return {
        "checker": "workload",
        "kind": kind,
        "key": plain(key),
        "details": plain(details),
        "invalidating": invalidating,
    }


def _workload_anomalies(w: dict[Any, Any]) -> Iterable[dict[str, Any]]:
    keys = {str(k) for k in w}
    if "attempt-count" in keys or "lost-count" in keys:  # broadcast / g-set (set-full)
        worst = {
            plain(s.get("element")): s for s in w.get("worst-stale") or [] if isinstance(s, dict)
        }
        for e in w.get("lost") or []:
            yield _row("lost", e, None, True)
        for e in w.get("stale") or []:
            s = worst.get(plain(e))
            yield _row(
                "stale", e, {"stable-latency": s.get("stable-latency")} if s else None, False
            )
        for e in w.get("never-read") or []:
            yield _row("never-read", e, None, False)
        for e, n in (w.get("duplicated") or {}).items():
            yield _row("duplicated", e, {"count": n}, True)
    elif "attempted-count" in keys:  # unique-ids
        for ident, n in (w.get("duplicated") or {}).items():
            yield _row("duplicated-id", ident, {"count": n}, True)
    elif "acceptable" in keys or "final-reads" in keys:  # counters
        for op in w.get("errors") or []:
            yield _row(
                "counter-out-of-range",
                _op_value(op),
                {"acceptable": plain(w.get("acceptable")), "read": plain(op)},
                True,
            )
    elif "error-types" in keys or "bad-error-types" in keys:  # kafka
        bad = {str(t) for t in w.get("bad-error-types") or []}
        for t in w.get("error-types") or []:
            entry = w.get(t)
            if str(t) == "unseen" and isinstance(entry, dict):
                for k, n in (entry.get("unseen") or {}).items():
                    yield _row("unseen", k, {"count": n}, "unseen" in bad)
                continue
            errs = entry.get("errs") if isinstance(entry, dict) else None
            if not errs:
                yield _row(str(t), None, plain(entry), str(t) in bad)
            for err in errs or []:
                key = err.get("key") if isinstance(err, dict) else None
                yield _row(str(t), key, err, str(t) in bad)
    elif "anomaly-types" in keys or "anomalies" in keys:  # txn-* (Elle)
        anomalies = w.get("anomalies") or {}
        for t in w.get("anomaly-types") or list(anomalies):
            cases = anomalies.get(t)
            if isinstance(cases, list | tuple) and cases:
                for case in cases:
                    txn = _op_value(case.get("op")) if isinstance(case, dict) else None
                    yield _row(str(t), txn, case, True)
            else:
                yield _row(str(t), None, cases, True)
    elif "failures" in keys:  # lin-kv (Knossos per key)
        results = w.get("results") or {}
        for k in w.get("failures") or []:
            yield _row("nonlinearizable", k, _knossos_summary(results.get(k)), True)
    elif "errors" in keys:  # echo
        for err in w.get("errors") or []:
            yield _row("echo-mismatch", None, err, True)


def _knossos_summary(result: Any) -> dict[str, Any] | None:
    if not isinstance(result, dict):
        return None
    lin = result.get("linearizable") or {}
    summary: dict[str, Any] = {}
    for field in ("op", "previous-ok", "last-op"):
        if lin.get(field) is not None:
            summary[field] = plain(lin.get(field))
    messages = []
    for path in lin.get("final-paths") or []:
        for step in path:
            model = step.get("model") if isinstance(step, dict) else None
            if model is not None and getattr(model, "tag", "").endswith("Inconsistent"):
                messages.append(str(model.value.get("msg")))
    if messages:
        summary["inconsistent"] = sorted(set(messages))
    return summary


def overall_validity(results: dict[Any, Any] | None) -> bool | str | None:
    """results.edn's top-level :valid? (or the merge of the checkers when it is absent)."""
    if not results:
        return None
    if "valid?" in results:
        return validity(results.get("valid?"))
    return merge_validity(
        [validity(v.get("valid?")) for v in results.values() if isinstance(v, dict)]
    )
