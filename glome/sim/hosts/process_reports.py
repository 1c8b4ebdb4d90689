"""What went wrong with node processes, in plain sentences: crash reports and problems."""

from __future__ import annotations

from glome.sim.hosts.process_pipes import NodeState, ProcessLimits, excerpt


def crash_report(state: NodeState, *, stdout: bool = True) -> str:
    """``Node n0 crashed with exit status N`` and the node's last stdout and stderr lines
    (Maelstrom's report); empty if the node did not crash."""
    if state.crash is None:
        return ""
    parts = [state.crash]
    if stdout and state.stdout_tail:
        parts.append(
            "Last stdout lines:\n" + "\n".join(f"    {excerpt(ln)}" for ln in state.stdout_tail)
        )
    if state.stderr_tail:
        parts.append(
            "Last stderr lines:\n" + "\n".join(f"    {excerpt(ln)}" for ln in state.stderr_tail)
        )
    else:
        parts.append("(no stderr output)")
    return "\n".join(parts)


def problems(st: NodeState, lim: ProcessLimits) -> list[str]:
    """A node's non-fatal trouble, in plain sentences."""
    nid, lines = st.node_id, list[str]()
    if st.bad_lines:
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(st.bad_lines.items()))
        lines.append(
            f"{nid} wrote {sum(st.bad_lines.values())} stdout line(s) that are not valid "
            f"messages ({kinds}); glome dropped them and kept routing, Maelstrom would "
            f"have stopped routing all of {nid}'s later output"
        )
    if st.overlong_lines:
        lines.append(
            f"{nid} wrote {st.overlong_lines} stdout line(s) over "
            f"{lim.max_line_bytes} bytes (dropped)"
        )
    if st.undelivered:
        lines.append(
            f"{nid} did not read its stdin fast enough: {st.undelivered} message(s) "
            f"undelivered ({lim.stdin_buffer_bytes} bytes were already waiting)"
        )
    if st.longest_stall >= lim.stall_report_after:
        lines.append(
            f"{nid} did not read its stdin for {st.longest_stall:.1f} s "
            f"({st.stall_unread} bytes waiting): it stopped reading, or was busy elsewhere"
        )
    if st.undelivered_not_running:
        lines.append(
            f"{st.undelivered_not_running} message(s) to {nid} undelivered: it was not running"
        )
    if st.throttled:
        lines.append(
            f"{nid} wrote more than {int(lim.lines_per_second)} lines/s to stdout; "
            "its output "
            f"was read at that rate ({st.throttled} time(s))"
        )
    if st.log_full:
        lines.append(
            f"{nid}'s stderr log reached {lim.max_log_bytes} bytes; later lines were not kept"
        )
    if st.not_killed:
        lines.append(st.not_killed)
    return lines
