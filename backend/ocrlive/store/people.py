"""People, their sessions, API tokens and single-use login links.

Writes are plain functions (sqlite3's calls; PgConnection offers the same) run on the
backend's single writer (Database.writer) or by
the CLI in its own transaction; reads go through the async engine like every read."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.store.sqlite.writer import Connection

USER_COLUMNS = "id, username, role, disabled, password_hash, source, created_at, updated_at"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    disabled: bool
    password_hash: str | None
    source: str
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "username": self.username, "role": self.role,
            "disabled": self.disabled, "source": self.source,
            "has_password": self.password_hash is not None,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }  # fmt: skip


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    user_id: int
    created_at: str
    last_seen_at: str
    expires_at: str
    ended_at: str | None
    address: str


@dataclass(frozen=True)
class TokenRow:
    id: int
    user_id: int
    name: str
    prefix: str
    role: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    def to_json(self, owner: str = "") -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "prefix": self.prefix, "role": self.role,
            "user_id": self.user_id, "owner": owner, "created_at": self.created_at,
            "last_used_at": self.last_used_at, "revoked_at": self.revoked_at,
        }  # fmt: skip


def is_duplicate(exc: BaseException) -> bool:
    """A unique key refused the row (a username taken meanwhile), on either backend."""
    return isinstance(exc, sqlite3.IntegrityError | psycopg.errors.UniqueViolation)


def _user(row: Any) -> User:
    return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6], row[7])


# --- writes (sqlite3, inside the caller's transaction) -------------------------------


def insert_user(
    conn: Connection, username: str, role: str, password_hash: str | None,
    source: str, now: str,
) -> int:  # fmt: skip
    cur = conn.execute(
        "INSERT INTO users (username, role, disabled, password_hash, source, created_at, "
        "updated_at) VALUES (?, ?, 0, ?, ?, ?, ?) RETURNING id",
        (username, role, password_hash, source, now, now),
    )
    return int(cur.fetchone()[0])


def update_user(conn: Connection, user_id: int, now: str, **values: Any) -> None:
    allowed = {"role", "disabled", "password_hash"}
    assert set(values) <= allowed, values
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(
        f"UPDATE users SET {sets}, updated_at = ? WHERE id = ?", (*values.values(), now, user_id)
    )


def user_by_name_sync(conn: Connection, username: str) -> User | None:
    row = conn.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)
    ).fetchone()
    return _user(row) if row else None


def count_users_sync(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def insert_session(
    conn: Connection, id_hash: str, user_id: int, now: str, expires_at: str,
    address: str, user_agent: str,
) -> None:  # fmt: skip
    conn.execute(
        "INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, "
        "address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (id_hash, user_id, now, now, expires_at, address, user_agent[:200]),
    )


def touch_session(conn: Connection, id_hash: str, now: str) -> None:
    conn.execute(
        "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND ended_at IS NULL",
        (now, id_hash),
    )


def end_session(conn: Connection, id_hash: str, reason: str, now: str) -> bool:
    cur = conn.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id_hash = ? AND ended_at IS NULL",
        (now, reason, id_hash),
    )
    return cur.rowcount > 0


def end_user_sessions(conn: Connection, user_id: int, reason: str, now: str) -> int:
    cur = conn.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL",
        (now, reason, user_id),
    )
    return cur.rowcount


def insert_token(
    conn: Connection, user_id: int, name: str, token_hash: str, prefix: str,
    role: str, now: str,
) -> int:  # fmt: skip
    cur = conn.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, role, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (user_id, name, token_hash, prefix, role, now),
    )
    return int(cur.fetchone()[0])


def revoke_token(conn: Connection, token_id: int, now: str) -> bool:
    cur = conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (now, token_id),
    )
    return cur.rowcount > 0


def revoke_tokens_outside(conn: Connection, user_id: int, keep: list[str], now: str) -> int:
    """On a role change, tokens whose role the person no longer holds stop working."""
    marks = ", ".join("?" for _ in keep) or "''"
    cur = conn.execute(
        f"UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? "
        f"AND revoked_at IS NULL AND role NOT IN ({marks})",
        (now, user_id, *keep),
    )
    return cur.rowcount


def touch_token(conn: Connection, token_id: int, now: str) -> None:
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))


def insert_link(conn: Connection, link_hash: str, user_id: int, now: str, expires_at: str) -> None:
    conn.execute(
        "INSERT INTO login_links (link_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (link_hash, user_id, now, expires_at),
    )


def use_link(conn: Connection, link_hash: str, now: str) -> int | None:
    """The link's person, once: it is marked used in the same transaction."""
    row = conn.execute(
        "SELECT user_id FROM login_links WHERE link_hash = ? AND used_at IS NULL "
        "AND expires_at > ?",
        (link_hash, now),
    ).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE login_links SET used_at = ? WHERE link_hash = ?", (now, link_hash))
    return int(row[0])


# --- reads (async engine) ------------------------------------------------------------


async def get_user(conn: AsyncConnection, user_id: int) -> User | None:
    sql = text(f"SELECT {USER_COLUMNS} FROM users WHERE id = :id")
    row = (await conn.execute(sql, {"id": user_id})).first()
    return _user(row) if row else None


async def get_user_by_name(conn: AsyncConnection, username: str) -> User | None:
    sql = text(f"SELECT {USER_COLUMNS} FROM users WHERE username = :name")
    row = (await conn.execute(sql, {"name": username})).first()
    return _user(row) if row else None


async def list_users(conn: AsyncConnection) -> list[User]:
    rows = await conn.execute(text(f"SELECT {USER_COLUMNS} FROM users ORDER BY username"))
    return [_user(r) for r in rows]


async def count_users(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT count(*) FROM users"))).scalar() or 0)


async def get_session(conn: AsyncConnection, id_hash: str) -> SessionRow | None:
    sql = text(
        "SELECT id_hash, user_id, created_at, last_seen_at, expires_at, ended_at, address "
        "FROM sessions WHERE id_hash = :h"
    )
    row = (await conn.execute(sql, {"h": id_hash})).first()
    return SessionRow(*row) if row else None


@dataclass(frozen=True)
class SessionState:
    last_seen_at: str
    expires_at: str
    ended_at: str | None
    disabled: bool


def _in(name: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    marks = ", ".join(f":{name}{i}" for i in range(len(values)))
    return f"({marks})", {f"{name}{i}": v for i, v in enumerate(values)}


async def session_states(conn: AsyncConnection, hashes: list[str]) -> dict[str, SessionState]:
    """Expiry is judged by the caller, which knows the timeouts."""
    if not hashes:
        return {}
    marks, params = _in("h", hashes)
    sql = text(
        "SELECT s.id_hash, s.last_seen_at, s.expires_at, s.ended_at, u.disabled "
        f"FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash IN {marks}"
    )
    rows = await conn.execute(sql, params)
    return {r[0]: SessionState(r[1], r[2], r[3], bool(r[4])) for r in rows}


async def live_tokens(conn: AsyncConnection, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    marks, params = _in("t", ids)
    sql = text(
        "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
        f"WHERE t.revoked_at IS NULL AND u.disabled = 0 AND t.id IN {marks}"
    )
    return {int(r[0]) for r in await conn.execute(sql, params)}


TOKEN_COLUMNS = "id, user_id, name, prefix, role, created_at, last_used_at, revoked_at"


async def get_token(conn: AsyncConnection, token_hash: str) -> TokenRow | None:
    sql = text(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = :h")
    row = (await conn.execute(sql, {"h": token_hash})).first()
    return TokenRow(*row) if row else None


async def get_token_by_id(conn: AsyncConnection, token_id: int) -> TokenRow | None:
    sql = text(f"SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = :id")
    row = (await conn.execute(sql, {"id": token_id})).first()
    return TokenRow(*row) if row else None


async def list_tokens(conn: AsyncConnection, user_id: int | None) -> list[tuple[TokenRow, str]]:
    where = "WHERE t.user_id = :uid" if user_id is not None else ""
    cols = ", ".join(f"t.{c.strip()}" for c in TOKEN_COLUMNS.split(","))
    sql = text(
        f"SELECT {cols}, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id "
        f"{where} ORDER BY t.created_at DESC"
    )
    rows = await conn.execute(sql, {"uid": user_id})
    return [(TokenRow(*r[:8]), r[8]) for r in rows]
