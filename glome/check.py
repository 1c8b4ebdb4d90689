"""``glome check PATH``: re-judge any store run, real Maelstrom or glome, with glome's checkers.

Reads the run's ``history.edn`` (and ``net-journal.jsonl`` when there is one), infers the test
options from ``test.json`` (glome) or the test map in ``jepsen.log`` (Maelstrom), runs glome's
composed checker and writes its results as ``glome-results.edn`` beside the run's own files
(never over them). Then prints, checker by checker, the run's own verdict against glome's, and
every figure on which they differ. What cannot be compared is said, never skipped silently:
``:net`` without a journal (Maelstrom journals in a binary format glome does not read), and
``:perf`` when Maelstrom could not draw its graphs (no gnuplot).

    glome check store/                     # the latest run
    glome check RUN --availability total   # override what is inferred
    glome check RUN --quiet                # the verdict table only

Exit codes: 0 when every compared verdict agrees (or differs for a reason glome names and
confirms, e.g. a check an older Maelstrom did not make), 1 when one differs unexplained, 254
bad input (a folder that is not a store, an unreadable history).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glome.edn import Keyword, dumps
from glome.sim.explain import failing_reasons

EXIT_AGREE, EXIT_DIFFER, EXIT_BAD_INPUT = 0, 1, 254
RESULTS_FILE = "glome-results.edn"
CHECKERS = ("perf", "timeline", "exceptions", "stats", "availability", "net", "workload")
NOT_CHECKED = "glome/not-checked"
"""Key of glome-results.edn listing the checkers glome could not run, with why."""


class CheckInputError(Exception):
    """The store cannot be checked; the message names the file and what is wrong."""


@dataclass
class Comparison:
    """One run re-checked: both results maps (as the same EDN reader reads them) and notes."""

    run_dir: Path
    options: Any
    inferred_from: str
    real: dict[Any, Any] | None
    ours: dict[Any, Any]
    not_compared: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    explained: dict[str, str] = field(default_factory=dict)
    """Checker -> why its verdict differs from the run's, where glome knows."""
    results_path: Path | None = None

    def verdicts(self) -> list[tuple[str, Any, Any, str]]:
        """(checker, real verdict, glome's verdict, note) for every checker and overall."""
        rows = []
        for name in CHECKERS:
            real = _verdict(self.real.get(name)) if self.real else None
            ours = _verdict(self.ours.get(name))
            note = self.not_compared.get(name, "")
            if not note:
                note = "same" if real == ours else ("differs" if self.real else "")
            if note == "differs" and name in self.explained:
                note = f"differs, explained: {self.explained[name]}"
            rows.append((name, real, ours, note))
        real_all = _verdict(self.real) if self.real else None
        ours_all = _verdict(self.ours)
        note = "same" if real_all == ours_all else "differs"
        if not self.real:
            note = "the run has no results.edn: nothing to compare"
        if note == "differs" and self.real and all(row[3] != "differs" for row in rows):
            note = "differs, explained above"
        rows.append(("overall", real_all, ours_all, note))
        return rows

    def agrees(self) -> bool:
        """Every compared checker's verdict agrees with the run's own."""
        return all(
            not note.startswith("differs")
            for name, _, _, note in self.verdicts()
            if name != "overall"
        )

    def unexplained(self) -> list[str]:
        """Checkers whose verdict differs with no known explanation."""
        return [name for name, _, _, note in self.verdicts() if note == "differs"]

    def differing_figures(self) -> list[tuple[str, Any, Any]]:
        """(dotted path, real, glome's) for each figure both report, with different values,
        in checkers that are compared."""
        if not self.real:
            return []
        from analysis.frames import figures

        real, ours = figures(self.real), figures(self.ours)
        out = []
        for key in sorted(set(real) & set(ours)):
            checker = key.split(".", 1)[0]
            if checker in self.not_compared or real[key] == ours[key]:
                continue
            out.append((key, real[key], ours[key]))
        return out


# ----------------------------------------------------------------------------- reading
def to_glome(value: Any, *, key: bool = False) -> Any:
    """An ``analysis.edn`` value in the form glome's checkers take: keywords in values as
    ``glome.edn.Keyword``, map keys and symbols as plain strings, records as their map."""
    from analysis import edn

    if isinstance(value, edn.Keyword):
        return str.__str__(value) if key else Keyword(str.__str__(value))
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return {to_glome(k, key=True): to_glome(v) for k, v in value.items()}
    if isinstance(value, edn.EdnSet | frozenset):
        return frozenset(to_glome(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_glome(v) for v in value]
    if isinstance(value, edn.Tagged):
        return to_glome(value.value)
    return value


def history_ops(raw: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """history.edn maps as glome ops (``type``, ``f`` and a named process as plain str)."""
    ops = []
    for op in raw:
        converted = to_glome(op)
        for name in ("type", "f", "process"):
            if isinstance(converted.get(name), str):
                converted[name] = str.__str__(converted[name])
        ops.append(converted)
    return ops


_TEST_MAP_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    # jepsen.log test-map key -> (TestOptions field, parser of the EDN text)
    "availability": ("availability", lambda t: None if t == "nil" else _availability(t)),
    "consistency-models": (
        "consistency_models",
        lambda t: tuple(m.lstrip(":") for m in re.findall(r":[\w-]+", t)),
    ),
    "key-count": ("key_count", lambda t: None if t == "nil" else int(t)),
    "max-txn-length": ("max_txn_length", int),
    "max-writes-per-key": ("max_writes_per_key", int),
    "time-limit": ("time_limit", float),
    "rate": ("rate", float),
    "concurrency": ("concurrency", int),
}


def _availability(text: str) -> str | float:
    text = text.strip().lstrip(":")
    return "total" if text == "total" else float(text)


def infer_options(run_dir: Path, workload: str | None) -> tuple[dict[str, Any], str]:
    """``glome.sim.build_options`` keywords for the run, and where they came from."""
    import orjson

    test_json = run_dir / "test.json"
    if test_json.exists():
        try:
            data = orjson.loads(test_json.read_bytes())
        except orjson.JSONDecodeError as e:
            raise CheckInputError(f"{test_json}: not valid JSON ({e})") from None
        if isinstance(data, dict) and "node_ids" in data:
            from glome.sim.options import TestOptions

            known = set(TestOptions.__dataclass_fields__)
            stored = {k: v for k, v in data.items() if k in known and k != "node_ids"}
            stored["nodes"] = data["node_ids"]
            for name in ("nemesis", "consistency_models"):
                if isinstance(stored.get(name), list):
                    stored[name] = tuple(stored[name])
            return stored, "test.json"
    log = run_dir / "jepsen.log"
    options: dict[str, Any] = {"workload": workload or run_dir.parent.name}
    if not log.exists():
        return options, "nothing (no test.json or jepsen.log): defaults"
    text = log.read_text(errors="replace")
    nodes = re.search(r":nodes \[([^\]]*)\]", text)
    if nodes:
        options["nodes"] = re.findall(r'"([^"]+)"', nodes.group(1))
    for edn_key, (name, parse) in _TEST_MAP_FIELDS.items():
        found = re.search(rf"(?<![\w-]):{edn_key} (\([^)]*\)|\[[^\]]*\]|[^,}}\s]+)", text)
        if found:
            try:
                options[name] = parse(found.group(1))
            except ValueError:
                continue
    return options, "jepsen.log"


def _journal_problem(path: Path) -> str | None:
    """What is wrong with a journal file (its file and line), or None when it reads."""
    from glome.sim.checkers.net import read_journal

    try:
        for _ in read_journal(path):
            pass
    except ValueError as e:
        return str(e)
    return None


def _journal(run_dir: Path) -> Path | None:
    path = run_dir / "net-journal.jsonl"
    return path if path.is_file() else None


# --------------------------------------------------------------------------- checking
def check_run(
    path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    write: bool = True,
) -> Comparison:
    """Re-check the run at ``path`` (run, workload or store directory). CheckInputError for
    input that cannot be checked."""
    import analysis
    from analysis import edn
    from glome.sim import build_options
    from glome.sim.checkers import compose
    from glome.sim.workloads import get as get_workload

    try:
        run = analysis.load(path)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise CheckInputError(str(e)) from None
    history_file = run.path / "history.edn"
    if not history_file.exists():
        why = next((m for m in run.missing if m.startswith("history.edn")), "missing")
        raise CheckInputError(f"{run.path}: {why}; there is nothing to check")
    broken = [p for p in run.problems if p.startswith("history.edn line")]
    if broken:
        what = broken[0].removesuffix(": skipped")
        more = f" (and {len(broken) - 1} more line(s))" if len(broken) > 1 else ""
        raise CheckInputError(f"{run.path}/{what}{more}; glome check needs every op of the history")
    options, source = infer_options(run.path, run.workload)
    options.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        opts = build_options(**options)
        get_workload(opts.workload).validate(opts)
    except (TypeError, ValueError, KeyError) as e:
        raise CheckInputError(f"options inferred from {source} are not usable: {e}") from None
    history = history_ops(run.raw_history)
    journal = _journal(run.path)
    journal_problem = _journal_problem(journal) if journal is not None else None
    ours = compose.check(
        history,
        opts,
        workload=get_workload(opts.workload).check,  # no store_dir: writes nothing there
        journal=journal if journal is not None and journal_problem is None else [],
    )
    not_compared: dict[str, str] = {}
    if journal is None:
        del ours["net"]
        not_compared["net"] = (
            "no net-journal.jsonl in this store (Maelstrom's journal is binary Fressian, "
            "which glome does not read): message counts not re-derived"
        )
    elif journal_problem is not None:
        del ours["net"]
        not_compared["net"] = f"the journal cannot be read: {journal_problem}"
    real = run.raw_results
    for name in CHECKERS:
        if real is not None and name not in real and name not in not_compared:
            not_compared[name] = "not in the run's results.edn (an older Maelstrom)"
    real_perf = _get(real, "perf")
    if real is not None and _verdict(real_perf) not in (True, False):
        not_compared["perf"] = "the run could not draw its graphs (no gnuplot?): no verdict"
    if not_compared:
        ours[NOT_CHECKED] = {k: v for k, v in not_compared.items() if k == "net"}
    ours["valid?"] = _merge(v for k, v in ours.items() if k in CHECKERS)
    # Both maps read by the same reader, so figures compare like for like.
    text = _pretty(ours)
    comparison = Comparison(
        run_dir=run.path,
        options=opts,
        inferred_from=source,
        real=real,
        ours=edn.loads(text),
        not_compared=not_compared,
        problems=[
            *(m for m in run.missing if m.startswith(("results.edn", "history.edn"))),
            *run.problems,
        ],
    )
    if real is None and not any("results.edn" in p for p in comparison.problems):
        comparison.problems.append("results.edn is unreadable: no verdict to compare")
    comparison.explained = explain_differences(comparison, history, opts)
    if write:
        comparison.results_path = run.path / RESULTS_FILE
        comparison.results_path.write_text(text)
    return comparison


def explain_differences(comparison: Comparison, history: list[Any], opts: Any) -> dict[str, str]:
    """Known, version-dependent reasons a verdict differs from the run's own, each confirmed by
    re-checking under the older rule rather than assumed."""
    explained: dict[str, str] = {}
    real_workload = _get(comparison.real, "workload")
    ours_workload = _get(comparison.ours, "workload")
    if opts.workload == "kafka" and _verdict(real_workload) != _verdict(ours_workload):
        real_types = {str(t) for t in _get(real_workload, "error-types") or []}
        ours_bad = {str(t) for t in _get(ours_workload, "bad-error-types") or []}
        if "unseen" in ours_bad and "unseen" not in real_types:
            from glome.sim.checkers import kafka

            older = kafka.check(history, opts, unseen=False)
            if older["valid?"] == _verdict(real_workload):
                explained["workload"] = (
                    "this Maelstrom did not report :unseen (acknowledged sends never polled); "
                    "current Jepsen does, and it invalidates. Without :unseen glome agrees"
                )
    return explained


def _pretty(results: Mapping[str, Any]) -> str:
    items = [f":{key} {dumps(value)}" for key, value in results.items()]
    return "{" + ",\n ".join(items) + "}\n"


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _verdict(sub: Any) -> Any:
    """True, False, "unknown", or None (no such checker)."""
    if not isinstance(sub, Mapping):
        return None
    value = sub.get("valid?")
    return value if value is True or value is False else "unknown"


def _merge(subs: Any) -> Any:
    from glome.sim.checkers import merge_valid

    return merge_valid(_get(sub, "valid?") for sub in subs)


# ----------------------------------------------------------------------------- report
def _show(verdict: Any) -> str:
    return {True: "valid", False: "INVALID", None: "-"}.get(verdict, str(verdict))


def report(comparison: Comparison, *, quiet: bool = False) -> str:
    """The comparison as text: the verdict table, differing figures, reasons, notes."""
    opts = comparison.options
    lines = [
        f"glome check {comparison.run_dir}",
        f"  options from {comparison.inferred_from}: workload {opts.workload}, "
        f"{opts.node_count} node(s), availability {opts.availability}, "
        f"consistency models {', '.join(opts.consistency_models)}",
        "",
        f"  {'checker':<13}{'the run':<10}{'glome':<10}",
    ]
    for name, real, ours, note in comparison.verdicts():
        lines.append(f"  {name:<13}{_show(real):<10}{_show(ours):<10}{note}")
    if not quiet:
        differing = comparison.differing_figures()
        if differing:
            lines += ["", "  figures that differ (the run's, glome's):"]
            lines += [f"    {key}: {real!r}, {ours!r}" for key, real, ours in differing]
        reasons = failing_reasons(comparison.ours)
        if reasons:
            lines += ["", "  why glome finds it not valid:"] + [f"    {r}" for r in reasons]
    for problem in comparison.problems:
        lines.append(f"  note: {problem}")
    if comparison.results_path is not None:
        lines.append(f"  glome's results: {comparison.results_path}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="glome check",
        description="Re-run glome's checkers on a Maelstrom or glome store run and compare.",
    )
    p.add_argument("path", help="a run directory, or a store/ (or workload) directory")
    p.add_argument("--workload", "-w", help="override the inferred workload")
    p.add_argument("--availability", help="total, or a fraction in [0, 1]")
    p.add_argument("--consistency-models", help='models, separated by " , " or commas')
    p.add_argument("--key-count", type=int)
    p.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS_FILE}")
    p.add_argument("--quiet", action="store_true", help="the verdict table only")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from glome.cli import parse_availability, parse_consistency_models

    ns = _parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {
            "workload": ns.workload,
            "availability": parse_availability(ns.availability),
            "key_count": ns.key_count,
        }
        if ns.consistency_models:
            overrides["consistency_models"] = parse_consistency_models(ns.consistency_models)
        comparison = check_run(ns.path, overrides, write=not ns.no_write)
    except (CheckInputError, ValueError) as e:
        print(f"glome check: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"glome check: cannot read the store: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report(comparison, quiet=ns.quiet))
    return EXIT_DIFFER if comparison.unexplained() else EXIT_AGREE
