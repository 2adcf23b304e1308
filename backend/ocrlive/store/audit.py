"""The audit log's table: append with the hash chain, read, verify, purge by age.

Each row's hash covers its id, its fields and the previous row's hash, so a changed
row no longer matches its own hash and a removed row breaks the link of the next.
Triggers (migrations/0002) refuse UPDATE, and DELETE of rows younger than the
retention cutoff, which only the retention purge moves forward."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.store.sqlite.writer import Connection

GENESIS = "0" * 64
ANCHOR_KEY = "audit_anchor"  # "<first kept id>:<hash of the row before it>" after a purge
CUTOFF_KEY = "audit_purge_cutoff"
FIELDS = ("at", "user_id", "username", "role", "action", "outcome", "task_id", "patient_id",
          "address", "detail")  # fmt: skip
COLUMNS = ", ".join(("id", *FIELDS, "prev_hash", "hash"))


@dataclass(frozen=True)
class Entry:
    """One audit record, before it has an id and a place in the chain."""

    at: str
    action: str
    outcome: str = "ok"
    user_id: int | None = None
    username: str = ""
    role: str = ""
    task_id: str | None = None
    patient_id: str | None = None
    address: str = ""
    detail: str = ""


def row_hash(row_id: int, fields: dict[str, Any], prev_hash: str) -> str:
    body = json.dumps([row_id, *(fields[f] for f in FIELDS)], separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


def append(conn: Connection, entries: list[Entry]) -> list[int]:
    """Append in order inside the caller's (BEGIN IMMEDIATE) transaction: the last hash
    is read under the write lock, so another process (the CLI) cannot fork the chain."""
    last = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        last = _anchor_sync(conn)
    row_id, prev = (int(last[0]), str(last[1]))
    rows, ids = [], []
    for entry in entries:
        row_id += 1
        fields = asdict(entry)
        digest = row_hash(row_id, fields, prev)
        rows.append((row_id, *(fields[f] for f in FIELDS), prev, digest))
        ids.append(row_id)
        prev = digest
    marks = ", ".join("?" for _ in range(len(FIELDS) + 3))
    conn.executemany(f"INSERT INTO audit_log ({COLUMNS}) VALUES ({marks})", rows)
    return ids


def _anchor_sync(conn: Connection) -> tuple[int, str]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (ANCHOR_KEY,)).fetchone()
    return _parse_anchor(row[0] if row else None)


def _parse_anchor(value: str | None) -> tuple[int, str]:
    """(id of the row before the first kept one, its hash)."""
    if not value:
        return 0, GENESIS
    first, prev = value.split(":", 1)
    return int(first) - 1, prev


def purge_before(conn: Connection, cutoff: str) -> int:
    """Delete rows older than `cutoff` (the retention purge, never the task purge) and
    keep the chain verifiable: the anchor records where the kept rows begin."""
    last_old = conn.execute(
        "SELECT id, hash FROM audit_log WHERE at < ? ORDER BY id DESC LIMIT 1", (cutoff,)
    ).fetchone()
    if last_old is None:
        return 0
    _set_meta(conn, CUTOFF_KEY, cutoff)
    cur = conn.execute("DELETE FROM audit_log WHERE id <= ?", (last_old[0],))
    _set_meta(conn, ANCHOR_KEY, f"{int(last_old[0]) + 1}:{last_old[1]}")
    return cur.rowcount


def _set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


@dataclass(frozen=True)
class Verdict:
    ok: bool
    rows: int
    problem: str = ""
    row_id: int | None = None


def verify(conn: Connection) -> Verdict:
    """Walk the chain; the first row that was altered, or the first gap, is named."""
    prev_id, prev_hash = _anchor_sync(conn)
    count = 0
    for row in _rows(conn):
        row_id, fields, stored_prev, stored = row
        if row_id != prev_id + 1:
            missing = f"{prev_id + 1}" if row_id == prev_id + 2 else f"{prev_id + 1}-{row_id - 1}"
            return Verdict(False, count, f"row {missing} removed (gap before row {row_id})",
                           prev_id + 1)  # fmt: skip
        if row_hash(row_id, fields, stored_prev) != stored:
            return Verdict(False, count, f"row {row_id} was altered", row_id)
        if stored_prev != prev_hash:
            return Verdict(False, count, f"row {prev_id} was altered or replaced", prev_id)
        prev_id, prev_hash, count = row_id, stored, count + 1
    return Verdict(True, count)


def _rows(conn: Connection) -> Iterator[tuple[int, dict[str, Any], str, str]]:
    cur = conn.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY id")
    while batch := cur.fetchmany(1000):
        for r in batch:
            yield int(r[0]), dict(zip(FIELDS, r[1:-2], strict=True)), r[-2], r[-1]


@dataclass(frozen=True)
class Filters:
    username: str | None = None
    patient_id: str | None = None
    action: str | None = None
    since: str | None = None  # inclusive, ISO
    until: str | None = None  # exclusive, ISO
    limit: int = 500
    before_id: int | None = None


def _where(f: Filters) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, column, value in (("u", "username", f.username), ("p", "patient_id", f.patient_id),
                                ("a", "action", f.action)):  # fmt: skip
        if value:
            clauses.append(f"{column} = :{name}")
            params[name] = value
    for name, op, value in (("s", ">=", f.since), ("e", "<", f.until)):
        if value:
            clauses.append(f"at {op} :{name}")
            params[name] = value
    if f.before_id is not None:
        clauses.append("id < :b")
        params["b"] = f.before_id
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def query(conn: AsyncConnection, f: Filters) -> list[dict[str, Any]]:
    """Newest first, for the audit page."""
    where, params = _where(f)
    sql = text(f"SELECT {COLUMNS} FROM audit_log{where} ORDER BY id DESC LIMIT :lim")
    rows = await conn.execute(sql, params | {"lim": f.limit})
    return [dict(r._mapping) for r in rows]


async def stream(conn: AsyncConnection, f: Filters) -> list[tuple[Any, ...]]:
    """Oldest first, for the CSV export of a date range."""
    where, params = _where(f)
    sql = text(f"SELECT {COLUMNS} FROM audit_log{where} ORDER BY id LIMIT :lim")
    return [tuple(r) for r in await conn.execute(sql, params | {"lim": f.limit})]
