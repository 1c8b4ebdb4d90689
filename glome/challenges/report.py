"""The grade over seeds as text: criteria with pass rates and worst values, the workload's
headline figures, and the failing seeds with the line that replays each."""

from __future__ import annotations

import math
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from glome.challenges.catalog import Challenge

if TYPE_CHECKING:
    from glome.challenges.grading import SeedGrade

COUNT_FIGURES = ("lost", "stale", "duplicated", "unexpected", "never_read")
"""Workload counts shown beside the criteria (where the workload has them)."""
FAILING_SHOWN = 10
"""Failing seeds listed with their replay line; the rest are counted."""
RUN_COMPLETED = "run completed"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _truth(value: Any) -> bool | None:
    """A cell as True/False, None when empty (numpy booleans are not ``True``)."""
    return None if _missing(value) else bool(value)


def _worst(values: list[Any], oks: list[Any], target: str) -> Any:
    """The worst measured value: among failing runs if any; for a numeric ``< X`` target the
    largest, for other numbers the smallest, else the most common value."""
    failing = [v for v, ok in zip(values, oks, strict=True) if _truth(ok) is not True]
    pool = [v for v in (failing or values) if not _missing(v)]
    if not pool:
        return None
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in pool):
        return max(pool) if target.startswith("<") else min(pool)
    by_text = {str(v): v for v in pool}
    return by_text[Counter(str(v) for v in pool).most_common(1)[0][0]]


def criteria_frame(challenge: Challenge, runs: Any) -> Any:
    """One row per (check, criterion): target, pass_rate, worst, verdict."""
    import pandas as pd

    rows = []
    for check in challenge.checks:
        mine = runs[runs["check"] == check.flags] if "check" in runs else runs.iloc[0:0]
        errors = mine["error"].dropna() if len(mine) else mine
        if len(errors):
            rows.append(
                {
                    "check": check.flags,
                    "criterion": RUN_COMPLETED,
                    "target": "no error",
                    "pass_rate": 1 - len(errors) / len(mine),
                    "worst": str(errors.iloc[0]).splitlines()[0][:120],
                    "verdict": "FAIL",
                }
            )
        for criterion in check.criteria:
            ok_column = criterion.name + " ok"
            values = list(mine[criterion.name]) if criterion.name in mine else [None] * len(mine)
            oks = list(mine[ok_column]) if ok_column in mine else [None] * len(mine)
            informative = criterion.passes is None
            passes = sum(_truth(ok) is True for ok in oks)
            rate = None if informative or not len(mine) else passes / len(mine)
            rows.append(
                {
                    "check": check.flags,
                    "criterion": criterion.name,
                    "target": criterion.target,
                    "pass_rate": rate,
                    "worst": _worst(values, oks, criterion.target),
                    "verdict": "INFO" if informative else "PASS" if rate == 1 else "FAIL",
                }
            )
    return pd.DataFrame(
        rows, columns=["check", "criterion", "target", "pass_rate", "worst", "verdict"]
    )


def _show(value: Any) -> str:
    if hasattr(value, "item"):  # a numpy scalar from a DataFrame cell
        value = value.item()
    if _missing(value):
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:g}"
    return str(value)


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def headline_figures(runs: Any) -> list[str]:
    """The workload's own figures: counts (worst seed), anomaly types, final reads."""
    lines = []
    for name in COUNT_FIGURES:
        if name not in runs or runs[name].dropna().empty:
            continue
        values = runs[name].dropna()
        worst = values.idxmax()
        nonzero = int((values > 0).sum())
        lines.append(
            f"{name}: max {_show(values.max())} (seed {runs.at[worst, 'seed']}), "
            f"non-zero in {nonzero} of {len(values)} runs"
        )
    if "anomaly_types" in runs:
        kinds: Counter[str] = Counter()
        for text in runs["anomaly_types"].dropna():
            kinds.update(set(str(text).split()))
        if kinds:
            shown = ", ".join(f"{k} ({n} runs)" for k, n in sorted(kinds.items()))
            lines.append(f"anomaly types: {shown}")
    if "final_reads" in runs and "acceptable" in runs:
        bad = runs[~runs["passed"].astype(bool) & runs["final_reads"].notna()]
        for _, row in bad.head(3).iterrows():
            lines.append(
                f"seed {row['seed']}: final reads {row['final_reads']}; "
                f"acceptable {row['acceptable']}"
            )
    return lines


def seed_grade_table(grade: SeedGrade) -> str:
    """The report ``glome challenge`` prints."""
    challenge, runs = grade.challenge, grade.runs
    criteria = grade.criteria
    rows = [("run", "criterion", "pass rate", "worst", "target", "verdict")]
    for _, c in criteria.iterrows():
        rate = "-" if _missing(c["pass_rate"]) else f"{c['pass_rate']:.0%}"
        run = flags_as_run(c["check"], grade.overrides)
        rows.append((run, c["criterion"], rate, _show(c["worst"]), c["target"], c["verdict"]))
    lines = _columns(rows)
    figures = headline_figures(runs)
    if figures:
        lines.append("workload figures:")
        lines.extend(f"  {f}" for f in figures)
    first, last = grade.seeds[0], grade.seeds[-1]
    seeds = f"seed {first}" if first == last else f"seeds {first}..{last}"
    failing = grade.failing_seeds
    lines.append(
        f"{len(runs)} runs ({seeds}, {len(challenge.checks)} per seed): "
        f"{len(runs) - int((~runs['passed'].astype(bool)).sum())} passed"
    )
    for seed in failing[:FAILING_SHOWN]:
        why = _why(runs[runs["seed"] == seed])
        lines.append(f"  FAIL seed {seed}: {why}\n    replay: {grade.replay(seed)}")
    if len(failing) > FAILING_SHOWN:
        lines.append(f"  ... and {len(failing) - FAILING_SHOWN} more failing seeds")
    if grade.interrupted or not grade.complete:
        lines.append("interrupted: not every run finished, so this is not a grade")
    if grade.overrides:
        changed = ", ".join(f"{k}={v!r}" for k, v in sorted(grade.overrides.items()))
        lines.append(f"note: run with {changed}, not the official flags: a try, not a grade")
    verdict = "PASS" if grade.passed else "FAIL"
    lines.append(f"challenge {challenge.id} ({challenge.title}): {verdict}")
    if challenge.note:
        lines.append(f"note: {challenge.note}")
    return "\n".join(lines)


def flags_as_run(flags: str, overrides: Mapping[str, Any]) -> str:
    """A check's official flags with ``overrides`` (``run()`` keywords) put in, so a table of a
    try says what actually ran: ``--time-limit 20`` with ``time_limit=5`` reads
    ``--time-limit 5``; an option the flags leave out is added at the end."""
    tokens = shlex.split(flags)
    for key, value in overrides.items():
        flag = "--" + key.replace("_", "-")
        at = tokens.index(flag) if flag in tokens else None
        if isinstance(value, bool):
            if at is None and value:
                tokens.append(flag)
            elif at is not None and not value:
                del tokens[at]
            continue
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        if at is not None and at + 1 < len(tokens) and not tokens[at + 1].startswith("--"):
            tokens[at + 1] = text
        else:
            tokens += [flag, text]
    return shlex.join(tokens)


def failed_criteria(row: Any) -> list[str]:
    """The criteria one run's row failed: its ``"<criterion> ok"`` columns that are false
    (numpy's booleans included)."""
    return [
        str(c).removesuffix(" ok")
        for c, v in row.items()
        if str(c).endswith(" ok") and _truth(v) is False
    ]


def _why(rows: Any) -> str:
    """What failed in one seed's runs, briefly."""
    reasons = []
    for _, row in rows.iterrows():
        if row.get("passed"):
            continue
        if isinstance(row.get("error"), str):
            reasons.append(row["error"].splitlines()[0][:160])
            continue
        failed = failed_criteria(row)
        text = ", ".join(f"{c} = {_show(row[c])}" for c in failed) or "not valid"
        explained = row.get("reasons")  # the checkers' own account (glome.sim.explain)
        if isinstance(explained, str) and explained:
            reasons.append(f"{text}: {explained}")
        else:  # a valid run that missed a target: what the workload counted
            reasons.append(text + _workload_reason(row))
    return "; ".join(dict.fromkeys(reasons))


def _workload_reason(row: Any) -> str:
    """The workload's own account of one failing run: non-zero counts and anomaly types."""
    parts = [
        f"{name.replace('_', ' ')} {_show(row[name])}"
        for name in COUNT_FIGURES
        if name in row and not _missing(row[name]) and row[name] > 0
    ]
    anomalies = row.get("anomaly_types")
    if isinstance(anomalies, str) and anomalies:
        parts.append(f"anomalies {anomalies}")
    return f" ({', '.join(parts)})" if parts else ""
