"""What ``glome grade`` writes: grades.csv, report.html and one feedback file per student.

- ``grades.csv``: one row per student x challenge x criterion (``roster.COLUMNS``);
- ``report.html``: a student x challenge table of points (green: every criterion passed on
  every seed; amber: some points; red: none; grey: not submitted), and per challenge how many
  students passed it;
- ``feedback/<student>.md``: per challenge, each criterion's pass rate against its target,
  why the failing seeds failed, and the line that replays each of them.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from glome.classroom.roster import NOT_SUBMITTED
from glome.swarm.figures import reasons_of

STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: center; }
td.pass { background: #c8f0c8; } td.part { background: #ffe4a8; }
td.fail { background: #f6c0c0; } td.none { background: #e4e4e4; color: #666; }
td.name { text-align: left; font-weight: bold; }
"""


def write_reports(grades: Any, out: Path) -> dict[str, Path]:
    """Write the three outputs under ``out``; their paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "grades.csv"
    grades.to_csv(csv_path, index=False)
    html_path = out / "report.html"
    html_path.write_text(render_html(grades))
    feedback = out / "feedback"
    feedback.mkdir(exist_ok=True)
    for student, rows in grades.groupby("student", sort=True):
        (feedback / f"{student}.md").write_text(render_feedback(str(student), rows))
    return {"csv": csv_path, "html": html_path, "feedback": feedback}


def summary(grades: Any) -> Any:
    """One row per (student, challenge): points, max points, status."""
    import pandas as pd

    rows = []
    for (student, challenge), part in grades.groupby(["student", "challenge"], sort=True):
        if (part["verdict"] == NOT_SUBMITTED).all():
            status, points, most = NOT_SUBMITTED, 0, 0
        else:
            points = int(part["points"].fillna(0).sum())
            most = int(part["max_points"].fillna(0).sum())
            failed = (part["verdict"].isin(["FAIL", "ERROR"])).any()
            status = "pass" if not failed else "partial" if points else "fail"
        rows.append(
            {
                "student": student,
                "challenge": challenge,
                "points": points,
                "max_points": most,
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=["student", "challenge", "points", "max_points", "status"])


def render_html(grades: Any) -> str:
    table = summary(grades)
    challenges = list(dict.fromkeys(grades["challenge"]))
    css = {"pass": "pass", "partial": "part", "fail": "fail", NOT_SUBMITTED: "none"}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in challenges)
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>glome grades</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Grades per student</h1>",
        f"<table><tr><th>student</th>{head}<th>total</th></tr>",
    ]
    for student, part in table.groupby("student", sort=True):
        cells = []
        by_challenge = {r["challenge"]: r for _, r in part.iterrows()}
        for challenge in challenges:
            r = by_challenge[challenge]
            text = "-" if r["status"] == NOT_SUBMITTED else f"{r['points']}/{r['max_points']}"
            title = html.escape(str(r["status"]))
            cells.append(f"<td class='{css[r['status']]}' title='{title}'>{text}</td>")
        total = f"{int(part['points'].sum())}/{int(part['max_points'].sum())}"
        lines.append(
            f"<tr><td class='name'>{html.escape(str(student))}</td>{''.join(cells)}"
            f"<td>{total}</td></tr>"
        )
    lines.append("</table><h1>Per challenge</h1>")
    lines.append(
        "<table><tr><th>challenge</th><th>passed</th><th>partial</th><th>failed</th>"
        "<th>not submitted</th></tr>"
    )
    for challenge in challenges:
        counts = table[table["challenge"] == challenge]["status"].value_counts()
        tally = "".join(
            f"<td>{int(counts.get(s, 0))}</td>" for s in ("pass", "partial", "fail", NOT_SUBMITTED)
        )
        lines.append(f"<tr><td class='name'>{html.escape(challenge)}</td>{tally}</tr>")
    lines.append(
        "</table><p>Pass: every criterion passed on every seed. Details per student in "
        "feedback/; every row, with the replay line of each failing seed, in grades.csv.</p>"
    )
    lines.append("</body></html>")
    return "\n".join(lines)


def _rate(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.0%}"


def render_feedback(student: str, rows: Any) -> str:
    lines = [f"# Feedback for {student}", ""]
    for challenge, part in rows.groupby("challenge", sort=False):
        if (part["verdict"] == NOT_SUBMITTED).all():
            lines += [f"## Challenge {challenge}: not submitted", ""]
            continue
        points = int(part["points"].fillna(0).sum())
        most = int(part["max_points"].fillna(0).sum())
        lines += [f"## Challenge {challenge}: {points}/{most} points", ""]
        lines += [
            "| run | criterion | pass rate | worst | target | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            lines.append(
                f"| {r['check'] or ''} | {r['criterion']} | {_rate(r['pass_rate'])} | "
                f"{'' if r['worst'] is None else r['worst']} | {r['target'] or ''} | "
                f"{r['verdict']} |"
            )
        first = part.iloc[0]
        if reasons_of(first):
            lines += ["", "What went wrong:"]
            lines += [f"- {reason}" for reason in reasons_of(first)]
        if first["replay"]:
            lines += ["", "Replay a failing seed:"]
            lines += [f"    {cmd}" for cmd in str(first["replay"]).split(" ; ")]
        lines.append("")
    return "\n".join(lines)
