"""Elle's consistency-model lattice: prohibited anomalies and the :not / :also-not boundary.

The expected sets are what Elle 0.2.2 (the Elle Maelstrom ships) answers for the same
anomalies; each case would fail if one edge of the model or anomaly graphs were missing.
"""

from __future__ import annotations

import pytest

from glome.sim.checkers import consistency_model as cm

READ_COMMITTED_AND_UP = {
    "causal-cerone", "consistent-view", "cursor-stability", "forward-consistent-view",
    "monotonic-atomic-view", "monotonic-snapshot-read", "monotonic-view",
    "parallel-snapshot-isolation", "prefix", "read-atomic", "repeatable-read", "serializable",
    "snapshot-isolation", "strong-read-committed", "strong-serializable",
    "strong-session-read-committed", "strong-session-serializable",
    "strong-session-snapshot-isolation", "strong-snapshot-isolation", "update-atomic",
    "update-serializable",
}  # fmt: skip


def test_no_anomalies_rule_out_nothing() -> None:
    assert cm.boundary([]) == ([], [])


def test_cyclic_versions_rule_out_read_uncommitted_and_everything_above() -> None:
    not_, also = cm.boundary(["cyclic-versions"])
    assert not_ == ["read-uncommitted"]
    expected = READ_COMMITTED_AND_UP | {
        "read-committed", "strong-read-uncommitted", "strong-session-read-uncommitted",
    }  # fmt: skip
    assert set(also) == expected


def test_aborted_read_rules_out_read_committed() -> None:
    not_, also = cm.boundary(["G1a"])
    assert not_ == ["read-committed"]
    assert set(also) == READ_COMMITTED_AND_UP


def test_internal_rules_out_read_atomic() -> None:
    not_, also = cm.boundary(["internal"])
    assert not_ == ["read-atomic"]
    assert set(also) == {
        "causal-cerone", "parallel-snapshot-isolation", "prefix", "update-atomic",
        "serializable", "snapshot-isolation", "strong-serializable",
        "strong-session-serializable", "strong-session-snapshot-isolation",
        "strong-snapshot-isolation",
    }  # fmt: skip
    assert cm.boundary(["G2", "internal"]) == (not_, also)


def test_g_single_rules_out_consistent_view() -> None:
    assert cm.boundary(["G-single"]) == (
        ["consistent-view"],
        sorted(
            {
                "snapshot-isolation",
                "serializable",
                "strong-serializable",
                "strong-session-snapshot-isolation",
                "strong-snapshot-isolation",
                "strong-session-serializable",
                "forward-consistent-view",
                "update-serializable",
            }
        ),
    )


def test_lost_update_and_realtime_boundaries() -> None:
    assert cm.boundary(["lost-update"])[0] == ["cursor-stability", "update-atomic"]
    assert cm.boundary(["G-single-realtime"]) == (
        ["strong-snapshot-isolation"],
        ["strong-serializable"],
    )
    assert cm.boundary(["G1c-process"])[0] == ["strong-session-read-committed"]
    assert cm.boundary(["G0-realtime"])[0] == ["strong-read-uncommitted"]


def test_dirty_update_rules_out_read_committed_and_its_strong_versions() -> None:
    not_, also = cm.boundary(["dirty-update"])
    assert not_ == ["read-committed"]
    assert set(also) == READ_COMMITTED_AND_UP


def test_anomalies_outside_the_lattice_rule_out_nothing() -> None:
    assert cm.boundary(["empty-transaction-graph"]) == ([], [])


def test_anomalies_prohibited_by_read_committed() -> None:
    assert cm.anomalies_prohibited_by(["read-committed"]) == {
        "dirty-update", "G1a", "G1b", "G1c", "G1", "G0", "PL-1-cycle-exists",
        "PL-2-cycle-exists", "cyclic-versions", "duplicate-elements", "incompatible-order",
        "future-read",
    }  # fmt: skip


def test_strict_serializable_forbids_realtime_cycles_but_serializable_does_not() -> None:
    strict = cm.anomalies_prohibited_by(["strict-serializable"])
    assert {"G0-realtime", "G1c-realtime", "G-single-realtime", "G2-item-realtime"} <= strict
    plain = cm.anomalies_prohibited_by(["serializable"])
    assert not any(a.endswith(("-realtime", "-process")) for a in plain)
    assert cm.needs_realtime(["strict-serializable"]) and not cm.needs_realtime(["serializable"])
    assert cm.needs_process(["strong-session-serializable"])
    assert not cm.needs_realtime(["strong-session-serializable"])


def test_weakest_models() -> None:
    assert cm.weakest_models([]) == set()
    assert {cm.friendly(m) for m in cm.weakest_models(["serializable", "strict-serializable"])} == {
        "serializable"
    }
    got = cm.weakest_models(["repeatable-read", "read-committed", "sequential", "read-your-writes"])
    assert {cm.friendly(m) for m in got} == {"read-your-writes", "read-committed"}
    assert {cm.friendly(m) for m in cm.weakest_models(["serializable", "read-atomic"])} == {
        "read-atomic"
    }


def test_names() -> None:
    assert cm.canonical("read-committed") == "PL-2"
    assert cm.friendly("PL-3") == "serializable"
    assert cm.friendly("PL-SS") == "strong-serializable"
    assert cm.anomalies_prohibited_by(["ROLA"]) == cm.anomalies_prohibited_by(["update-atomic"])
    with pytest.raises(ValueError, match="unknown consistency model"):
        cm.anomalies_prohibited_by(["stricct-snappshot-isolation"])
