"""Elle's lattice of consistency models: which anomalies each model forbids, and which models
a set of anomalies rules out.

Three directed acyclic graphs hold the knowledge, each given as "node: its successors":

- ``IMPLIED_ANOMALIES``: a -> b when finding anomaly a means b is present too (a G0 cycle is a
  G1c cycle; a process-order cycle is also a realtime one, since processes are sequential).
- ``MODELS``: a -> b when a history satisfying model a also satisfies b (serializable
  implies repeatable-read).
- ``DIRECTLY_PROHIBITED``: model -> the anomalies it rules out on top of the models it
  implies.

Models have Adya's canonical names (``PL-2``, ``PL-SI``) and friendly ones (read-committed,
snapshot-isolation); the graphs use canonical names, results the friendly ones. The data follows
Elle 0.2.2 (elle.consistency-model), the Elle that Maelstrom ships, so ``boundary`` gives the
same ``:not`` / ``:also-not`` sets as Maelstrom for the same anomaly types. Elle 0.2.1 renamed
ROLA to update-atomic; ``ROLA`` is still accepted as a model name and means update-atomic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

Dag = Mapping[str, tuple[str, ...]]


def _dag(edges: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    return {a: tuple(bs) for a, bs in edges.items()}


IMPLIED_ANOMALIES: Dag = _dag(
    {
        # Adya: a ww cycle is a ww/wr cycle. Each cycle anomaly also holds with process
        # order allowed in the cycle, and a process-order cycle is a realtime one.
        "G0": ["G1c", "G0-process"],
        "G0-process": ["G1c-process", "G0-realtime"],
        "G0-realtime": ["G1c-realtime"],
        # G1 is G1a or G1b or G1c.
        "G1a": ["G1"],
        "G1b": ["G1"],
        "G1c": ["G1", "G1c-process"],
        "G1c-process": ["G1c-realtime", "G1-process"],
        "G1c-realtime": ["G1-realtime"],
        "G1": ["G1-process"],
        "G1-process": ["G1-realtime"],
        # One anti-dependency on an item is a G-single and a nonadjacent-item cycle.
        "G-single-item": ["G-single", "G-single-item-process", "G-nonadjacent-item"],
        "G-single-item-process": [
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
        "G-single-item-realtime": ["G-single-realtime", "G-nonadjacent-item-realtime"],
        "G-single": ["G-nonadjacent", "GSIb", "G-single-process"],
        "G-single-process": ["G-nonadjacent-process", "G-single-realtime"],
        "G-single-realtime": ["G-nonadjacent-realtime"],
        "G-nonadjacent-item": ["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
        "G-nonadjacent-item-process": [
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
        "G-nonadjacent-item-realtime": ["G2-item-realtime", "G-nonadjacent-realtime"],
        "G-nonadjacent": ["G2", "G-nonadjacent-process"],
        "G-nonadjacent-process": ["G2-process", "G-nonadjacent-realtime"],
        "G-nonadjacent-realtime": ["G2-realtime"],
        "G2": ["G2-process"],
        "G2-item": ["G2", "G2-item-process"],
        "G2-item-process": ["G2-process", "G2-item-realtime"],
        "G2-item-realtime": ["G2-realtime"],
        "G2-process": ["G2-realtime"],
        "GSIa": ["GSI"],
        "GSIb": ["GSI"],
        # Two reads that fit no single version order: one of them read a dirty version.
        "incompatible-order": ["G1a"],
        # Reading one's own later write is a one-transaction wr cycle.
        "future-read": ["G1c"],
        # An update built on an aborted write: treated like the dirty read it resembles.
        "dirty-update": ["G1a"],
        # Lost update is write skew on one item (Bailis), and write skew is G2 (Hermitage).
        "lost-update": ["write-skew", "G2-item"],
        "write-skew": ["G2"],
    }
)

CANONICAL_NAMES: Mapping[str, str] = {
    "consistent-view": "PL-2+",
    "conflict-serializable": "PL-3",
    "cursor-stability": "PL-CS",
    "forward-consistent-view": "PL-FCV",
    "monotonic-snapshot-read": "PL-MSR",
    "monotonic-view": "PL-2L",
    "read-committed": "PL-2",
    "read-uncommitted": "PL-1",
    "repeatable-read": "PL-2.99",
    "serializable": "PL-3",
    "snapshot-isolation": "PL-SI",
    "strict-serializable": "PL-SS",
    "strong-serializable": "PL-SS",
    "update-serializable": "PL-3U",
    "strong-session-read-uncommitted": "strong-session-PL-1",
    "strong-session-read-committed": "strong-session-PL-2",
    "strong-read-uncommitted": "strong-PL-1",
    "strong-read-committed": "strong-PL-2",
    "ROLA": "update-atomic",
}
"""Friendly (or older) model names -> the names the graphs use."""

FRIENDLY_NAMES: Mapping[str, str] = {
    **{canon: friendly for friendly, canon in CANONICAL_NAMES.items() if friendly != "ROLA"},
    # Two friendly names share these; Elle prints the ones below.
    "PL-3": "serializable",
    "PL-SS": "strong-serializable",
}
"""Canonical model names -> the names results use."""

MODELS: Dag = _dag(
    {
        # Transactional models (Adya, Bailis, Cerone, Daudjee, Zuikeviciute, ROLA).
        "causal-cerone": ["read-atomic"],
        "consistent-view": ["cursor-stability", "monotonic-view"],
        "conflict-serializable": ["view-serializable"],
        "cursor-stability": ["read-committed", "PL-2"],
        "forward-consistent-view": ["consistent-view"],
        "PL-2": ["PL-1"],
        "PL-3": ["repeatable-read", "update-serializable"],
        "update-serializable": ["forward-consistent-view"],
        "monotonic-atomic-view": ["read-committed"],
        "monotonic-view": ["PL-2"],
        "monotonic-snapshot-read": ["PL-2"],
        "parallel-snapshot-isolation": ["causal-cerone", "update-atomic"],
        "prefix": ["causal-cerone"],
        "read-atomic": ["monotonic-atomic-view"],
        "read-committed": ["read-uncommitted"],
        "repeatable-read": ["cursor-stability", "monotonic-atomic-view"],
        "update-atomic": ["read-atomic"],
        "serializable": ["repeatable-read", "snapshot-isolation", "view-serializable"],
        "session-serializable": ["1SR"],
        "snapshot-isolation": [
            "forward-consistent-view",
            "monotonic-atomic-view",
            "monotonic-snapshot-read",
            "parallel-snapshot-isolation",
            "prefix",
        ],
        "strict-serializable": [
            "PL-3",
            "serializable",
            "linearizable",
            "snapshot-isolation",
            "strong-snapshot-isolation",
            "strong-session-serializable",
        ],
        # Session and realtime versions of the weak models (Elle's own generalisation).
        "strong-session-PL-1": ["PL-1"],
        "strong-session-PL-2": ["PL-2", "strong-session-PL-1"],
        "strong-PL-1": ["strong-session-PL-1"],
        "strong-PL-2": ["strong-session-PL-2", "strong-PL-1"],
        "strong-session-serializable": ["serializable", "strong-session-snapshot-isolation"],
        "strong-session-snapshot-isolation": ["snapshot-isolation", "strong-session-PL-2"],
        "strong-serializable": ["session-serializable"],
        "strong-snapshot-isolation": ["strong-session-snapshot-isolation", "strong-PL-2"],
        # Single-object models.
        "linearizable": ["sequential"],
        "sequential": ["causal"],
        "causal": ["writes-follow-reads", "PRAM"],
        "PRAM": ["monotonic-reads", "monotonic-writes", "read-your-writes"],
    }
)
"""a -> b: a history that satisfies a satisfies b. Names here may be friendly; ``_models``
canonicalises them (so serializable and PL-3 are one node)."""

DIRECTLY_PROHIBITED: Dag = _dag(
    {
        "causal-cerone": ["internal", "G1a"],
        "cursor-stability": ["G1", "G-cursor", "lost-update"],
        "monotonic-view": ["G1", "G-monotonic"],
        "monotonic-snapshot-read": ["G1", "G-MSR"],
        "consistent-view": ["G1", "G-single"],
        "forward-consistent-view": ["G1", "G-SIb"],
        "parallel-snapshot-isolation": ["internal", "G1a"],
        "PL-3": ["G1", "G2", "predicate-read-miss", "PL-3-cycle-exists"],
        "PL-2": ["G1", "PL-2-cycle-exists"],
        "PL-1": ["G0", "duplicate-elements", "cyclic-versions", "PL-1-cycle-exists"],
        "prefix": ["internal", "G1a"],
        "serializable": ["internal"],
        "snapshot-isolation": ["internal", "G1", "G-SI", "G-nonadjacent", "PL-SI-cycle-exists"],
        "read-atomic": ["internal", "G1a", "future-read"],
        "repeatable-read": ["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
        "update-atomic": ["lost-update"],
        "strict-serializable": ["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
        "strong-session-PL-1": ["strong-session-PL-1-cycle-exists", "G0-process"],
        "strong-session-PL-2": ["strong-session-PL-2-cycle-exists", "G1c-process"],
        "strong-PL-1": ["strong-PL-1-cycle-exists", "G0-realtime"],
        "strong-PL-2": ["strong-PL-2-cycle-exists", "G1c-realtime"],
        "strong-session-snapshot-isolation": [
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
        "strong-snapshot-isolation": [
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
        "strong-session-serializable": [
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
        "update-serializable": ["G1", "G-update"],
    }
)
"""Model -> anomalies it forbids beyond those of the models it implies."""


def canonical(model: str) -> str:
    """A model's name in the graphs (``read-committed`` -> ``PL-2``)."""
    return CANONICAL_NAMES.get(model, model)


def friendly(model: str) -> str:
    """A model's name in results (``PL-2`` -> ``read-committed``)."""
    return FRIENDLY_NAMES.get(model, model)


def _merged(dag: Dag, rename: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for a, bs in dag.items():
        succ = out.setdefault(rename.get(a, a), [])
        for name in bs:
            b = rename.get(name, name)
            if b not in succ:
                succ.append(b)
    return {a: tuple(bs) for a, bs in out.items()}


def _reversed(dag: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for a, bs in dag.items():
        for b in bs:
            out.setdefault(b, []).append(a)
    return {b: tuple(a) for b, a in out.items()}


_MODELS = _merged(MODELS, CANONICAL_NAMES)
_STRONGER = _reversed(_MODELS)
_PROHIBITED_BY = _merged(DIRECTLY_PROHIBITED, CANONICAL_NAMES)
_PROHIBITING = _reversed(_PROHIBITED_BY)
_IMPLYING = _reversed(IMPLIED_ANOMALIES)


def reachable(succ: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    """``start`` and every node reachable from it along ``succ``."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(succ.get(x, ()))
    return seen


ALL_MODELS: frozenset[str] = frozenset(
    {*_MODELS, *(b for bs in _MODELS.values() for b in bs), *CANONICAL_NAMES}
    | set(CANONICAL_NAMES.values())
)
"""Every model name Elle knows, friendly and canonical (plus ROLA)."""


def validate_models(models: Iterable[str]) -> list[str]:
    """The models, or ValueError naming the unknown ones and the known ones."""
    models = list(models)
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        raise ValueError(
            f"unknown consistency model(s) {unknown}; known: {', '.join(sorted(ALL_MODELS))}"
        )
    return models


def anomalies_prohibited_by(models: Iterable[str]) -> frozenset[str]:
    """Every anomaly that can't be present if all ``models`` hold: the anomalies the models
    (and every model they imply) forbid, and every anomaly that implies one of those."""
    return _prohibited(tuple(sorted(canonical(m) for m in validate_models(models))))


@cache
def _prohibited(models: tuple[str, ...]) -> frozenset[str]:
    implied = reachable(_MODELS, models)
    direct = {a for m in implied for a in _PROHIBITED_BY.get(m, ())}
    return frozenset(reachable(_IMPLYING, direct))


def impossible_models(anomalies: Iterable[str]) -> set[str]:
    """Canonical names of the models ruled out by finding ``anomalies``: those forbidding an
    anomaly found or implied, and every model stronger than those."""
    present = reachable(IMPLIED_ANOMALIES, anomalies)
    direct = {m for a in present for m in _PROHIBITING.get(a, ())}
    return reachable(_STRONGER, direct)


def weakest_models(models: Iterable[str]) -> set[str]:
    """The models of the set that no other model of the set is implied by."""
    ms = {canonical(m) for m in models}
    return {m for m in ms if not (reachable(_MODELS, [m]) - {m}) & ms}


def boundary(anomalies: Iterable[str]) -> tuple[list[str], list[str]]:
    """Elle's friendly boundary: (``not``, ``also-not``) in friendly names, sorted.

    ``not`` holds the weakest models the anomalies rule out, ``also-not`` the rest of the
    ruled-out models (all stronger). Anomaly names outside the lattice rule nothing out.
    """
    ruled_out = impossible_models(anomalies)
    weakest = weakest_models(ruled_out)
    return (
        sorted({friendly(m) for m in weakest}),
        sorted({friendly(m) for m in ruled_out - weakest}),
    )


# Anomaly types that only process or realtime edges can produce: a model that forbids one
# of these needs that order in its dependency graph.
def needs_realtime(models: Iterable[str]) -> bool:
    """Does any model forbid an anomaly that needs realtime edges?"""
    return any(a.endswith("-realtime") for a in anomalies_prohibited_by(models))


def needs_process(models: Iterable[str]) -> bool:
    """Does any model forbid an anomaly that needs process edges?"""
    return any(a.endswith("-process") for a in anomalies_prohibited_by(models))
