"""A durable write-ahead log in sqlite: the Raft log, the vote and the term, fsynced at commit.

The review suggests "sled/sqlite for simplicity" and fsync-on-commit; its ``sled`` sketch
flushes after every single append. Here one sqlite transaction carries a whole batch (group
commit): the leader writes every entry that arrived since its last flush in one transaction,
a follower writes one ``append`` message in one transaction. ``PRAGMA synchronous=FULL``
makes sqlite fsync at every COMMIT, so when a method returns, what it wrote survives a crash
of the process (and, on a disk that honours fsync, of the machine).

What must be durable, and when (Raft, section 5 of the paper):

- ``term`` and ``voted_for`` before answering a vote or starting an election, or a restarted
  node could vote twice in one term and elect two leaders;
- log entries before acknowledging them (follower) or counting itself (leader);
- ``commit_index`` and the committed offsets need not be: after a restart they are learnt
  again (from the leader, from the peers' gossip), and reporting less than the truth is safe.
  They ride along with the next entry write (the offsets also with a periodic save), so a
  restarted node can serve polls at once without paying an fsync for them.

Writes are synchronous calls on the event loop on purpose: no await sits between "decide" and
"persisted", so no other handler can observe a state the disk does not have yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

Entry = tuple[int, dict[str, Any]]
"""(term, operation): a Raft log entry; its index is its position (1-based)."""


@dataclass
class WALState:
    term: int = 0
    voted_for: str | None = None
    commit_index: int = 0
    entries: list[Entry] = field(default_factory=list)
    committed_offsets: dict[str, int] = field(default_factory=dict)


class WriteAheadLog:
    """One node's durable Raft state in one sqlite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsyncs = 0
        """COMMITs issued (each one an fsync under synchronous=FULL)."""
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS log "
            "(idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, op BLOB NOT NULL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS committed (key TEXT PRIMARY KEY, offset INTEGER NOT NULL)"
        )

    def load(self) -> WALState:
        """Everything on disk; the log must be dense from index 1 (else it is corrupt)."""
        meta = dict(self.db.execute("SELECT name, value FROM meta"))
        state = WALState(
            term=int(meta.get("term", 0)),
            voted_for=meta.get("voted_for") or None,
            commit_index=int(meta.get("commit_index", 0)),
        )
        for i, (idx, term, op) in enumerate(
            self.db.execute("SELECT idx, term, op FROM log ORDER BY idx"), start=1
        ):
            if idx != i:
                raise ValueError(f"{self.path}: log index {idx} where {i} was expected")
            state.entries.append((int(term), orjson.loads(op)))
        state.commit_index = min(state.commit_index, len(state.entries))
        state.committed_offsets = dict(
            self.db.execute("SELECT key, offset FROM committed ORDER BY key")
        )
        return state

    def save_hard_state(self, term: int, voted_for: str | None) -> None:
        """Term and vote, durable before the caller says anything about them."""
        with self._txn() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("term", str(term)), ("voted_for", voted_for or "")],
            )

    def write_entries(
        self,
        first_index: int,
        entries: Iterable[Entry],
        *,
        commit_index: int | None = None,
        committed_offsets: dict[str, int] | None = None,
    ) -> None:
        """Replace the log from ``first_index`` on with ``entries``, in one transaction.

        Deleting the old suffix first is how a follower drops entries that conflict with the
        leader's; a leader only ever appends (``first_index`` = its last durable index + 1).
        """
        rows = [(first_index + i, term, orjson.dumps(op)) for i, (term, op) in enumerate(entries)]
        with self._txn() as db:
            db.execute("DELETE FROM log WHERE idx >= ?", (first_index,))
            db.executemany("INSERT INTO log VALUES (?, ?, ?)", rows)
            if commit_index is not None:
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('commit_index', ?)", (str(commit_index),)
                )
            if committed_offsets:
                db.executemany(
                    "INSERT INTO committed VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                    "SET offset = max(offset, excluded.offset)",
                    sorted(committed_offsets.items()),
                )

    def _txn(self) -> _Transaction:
        return _Transaction(self)

    def close(self) -> None:
        self.db.close()


class _Transaction:
    """BEGIN ... COMMIT (fsync) or ROLLBACK on error."""

    def __init__(self, wal: WriteAheadLog) -> None:
        self.wal = wal

    def __enter__(self) -> sqlite3.Connection:
        self.wal.db.execute("BEGIN IMMEDIATE")
        return self.wal.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.wal.db.execute("COMMIT")
            self.wal.fsyncs += 1
        else:
            self.wal.db.execute("ROLLBACK")
