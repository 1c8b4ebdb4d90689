"""What `jepsen.log` says about a run: the command line, the verdict, and why it stopped.

Maelstrom's log lines look like ``2025-04-21 09:43:40,048{GMT}\\tINFO\\t[thread] ns: message``;
anything else is a continuation of the previous line (test map, stack traces, results).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})(?:\{GMT\})?\t(\w+)\t\[([^\]]*)\] ([^:]+): ?(.*)$"
)
_VERDICTS = {
    "Everything looks good!": "valid",
    "Analysis invalid!": "invalid",
    "Errors occurred during analysis, but no anomalies found.": "unknown",
}
# Flags whose values we keep, spelled as Maelstrom's CLI spells them.
_VALUE_FLAGS = {
    "-w": "workload",
    "--workload": "workload",
    "--bin": "bin",
    "--node-count": "node-count",
    "--time-limit": "time-limit",
    "--rate": "rate",
    "--concurrency": "concurrency",
    "--latency": "latency",
    "--latency-dist": "latency-dist",
    "--nemesis": "nemesis",
    "--nemesis-interval": "nemesis-interval",
    "--availability": "availability",
    "--topology": "topology",
    "--key-count": "key-count",
    "--consistency-models": "consistency-models",
    "--test-count": "test-count",
}


@dataclass
class JepsenLog:
    """The facts pulled out of one jepsen.log."""

    command_line: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    verdict: str | None = None  # "valid", "invalid", "unknown", or None when absent
    crashed: bool = False
    crash_reason: str | None = None
    last_message: str | None = None  # the last timestamped message (e.g. "Analyzing...")
    lines: int = 0


def parse_command_line(command: str) -> dict[str, str]:
    """The CLI flags of a ``lein run test ...`` / ``maelstrom test ...`` line, by long name."""
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    options: dict[str, str] = {}
    for i, arg in enumerate(argv):
        name = _VALUE_FLAGS.get(arg)
        if name and i + 1 < len(argv):
            options[name] = argv[i + 1]
    return options


def read_jepsen_log(path: Path) -> JepsenLog:
    """Parse `path`; never raises on odd content (an unreadable file gives an empty result)."""
    log = JepsenLog()
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    log.lines = len(lines)
    crash_at: int | None = None
    for i, line in enumerate(lines):
        for prefix, verdict in _VERDICTS.items():
            if line.startswith(prefix):  # printed on its own line after the results map
                log.verdict = verdict
        m = _LINE.match(line)
        if m is None:
            continue
        message = m.group(5)
        log.last_message = message
        if message.startswith("Command line:") and i + 1 < len(lines):
            log.command_line = lines[i + 1].strip()
        elif message.startswith("Test crashed!"):
            log.crashed = True
            crash_at = i
    if log.command_line:
        log.options = parse_command_line(log.command_line)
    if crash_at is not None:
        log.crash_reason = _crash_reason(lines[crash_at + 1 :])
    return log


def _crash_reason(after: list[str]) -> str:
    """The exception text after "Test crashed!", without the Java stack frames.

    Keeps the exception's first line and, when a node's stderr is quoted (a Python traceback,
    say), its last line, which is usually the error itself.
    """
    block: list[str] = []
    for line in after:
        if line.startswith("\tat ") or _LINE.match(line):
            break
        block.append(line.rstrip())
    body = [b for b in block if b.strip()]
    if not body:
        return "the test crashed (no exception text in jepsen.log)"
    reason = body[0]
    if "STDERR" in "\n".join(block):
        stderr = [b for b in body[1:] if not b.startswith(("Full STDERR", "And to STDERR"))]
        if stderr:
            reason = f"{reason} ... {stderr[-1].strip()}"
    return reason
