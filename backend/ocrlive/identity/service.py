"""Identity: who is asking. Sign-in by password or single-use link, sessions kept in
the database, personal API tokens; every change and every sign-in is audited in the
same transaction as the change itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from ocrlive.audit.actions import Action
from ocrlive.audit.log import AuditLog, entry
from ocrlive.errors import InvalidCredentials, InvalidLink, RateLimited, SessionEnded
from ocrlive.events import utcnow
from ocrlive.identity.passwords import hash_password, needs_rehash, verify_password
from ocrlive.identity.permissions import Principal, Role, Via, held_permissions
from ocrlive.identity.recent import RecentTokens
from ocrlive.identity.secrets import digest, new_secret
from ocrlive.identity.throttle import LoginThrottle
from ocrlive.store import audit as audit_store
from ocrlive.store import people as store
from ocrlive.store.audit import Entry
from ocrlive.store.database import Database
from ocrlive.store.people import User
from ocrlive.store.sqlite.writer import Connection

T = TypeVar("T")


@dataclass(frozen=True)
class Ending:
    """What just stopped being valid: a person's sessions, one session, or a token.
    Open sockets that rest on it are closed (4001)."""

    user_id: int | None = None
    session: str | None = None
    token_id: int | None = None

    def covers(self, principal: Principal) -> bool:
        return (
            principal.user_id == self.user_id
            or (self.session is not None and principal.session == self.session)
            or (self.token_id is not None and principal.token_id == self.token_id)
        )


EndListener = Callable[[Ending], None]
TOUCH_TOKEN_EVERY = 60.0  # last_used_at is kept to the minute, not written per request


@dataclass(frozen=True)
class IdentityConfig:
    idle_timeout: float = 15 * 60.0
    max_age: float = 12 * 3600.0
    link_ttl: float = 15 * 60.0

    @property
    def touch_every(self) -> float:
        # A session's last_seen is written at most this often: one write per request
        # would make every read a write. Expiry may come this much early.
        return min(30.0, self.idle_timeout / 10)


def later(seconds: float, now: str | None = None) -> str:
    base = datetime.fromisoformat(now) if now else datetime.now(UTC)
    return (base + timedelta(seconds=seconds)).isoformat()


def age(since: str) -> float:
    return (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()


def principal_for(
    user: User,
    via: Via,
    address: str,
    role: Role | None = None,
    *,
    session: str | None = None,
    token_id: int | None = None,
) -> Principal:
    own = Role(user.role)
    held = role or own
    perms = held_permissions(held, own)
    return Principal(user.id, user.username, held, via, address, perms, session, token_id)


class Identity:
    def __init__(self, db: Database, audit: AuditLog, config: IdentityConfig) -> None:
        self.db = db
        self.audit = audit
        self.config = config
        self.throttle = LoginThrottle()
        self._listeners: list[EndListener] = []
        self._token_touched: dict[int, float] = {}
        self.recent_tokens = RecentTokens()
        self._verifying: dict[str, asyncio.Future[Principal | None]] = {}
        self._background: set[asyncio.Task[None]] = set()

    def on_end(self, listener: EndListener) -> None:
        self._listeners.append(listener)

    def ended(self, **what: int | str | None) -> None:
        ending = Ending(**what)  # type: ignore[arg-type]
        self.recent_tokens.forget(ending.covers)
        for listener in self._listeners:
            listener(ending)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        return await self.db.writer.run(fn)

    async def write_audited(self, fn: Callable[[Connection], T], *entries: Entry) -> T:
        """A change and its audit rows in one transaction: neither without the other."""

        def run(conn: Connection) -> T:
            result = fn(conn)
            audit_store.append(conn, list(entries))
            return result

        return await self.write(run)

    async def user(self, username: str) -> User | None:
        async with self.db.read() as conn:
            return await store.get_user_by_name(conn, username.strip().lower())

    # --- sign-in --------------------------------------------------------------------

    async def login(
        self, username: str, password: str, address: str, agent: str
    ) -> tuple[Principal, str]:
        """A new session for a right password; (principal, the cookie's secret)."""
        name = username.strip().lower()[:200]
        wait = self.throttle.wait(name, address)
        if wait:
            raise RateLimited(f"Too many failed sign-ins; try again in {wait} s", wait)
        user = await self.user(name)
        stored = user.password_hash if user and not user.disabled else None
        if user is None or user.disabled or not verify_password(stored, password):
            self.throttle.failed(name, address)
            fail = entry(None, Action.LOGIN_FAILED, outcome="denied", username=name,
                         address=address)  # fmt: skip
            await self.audit.record(fail)
            raise InvalidCredentials("Wrong username or password")
        self.throttle.succeeded(name)
        if stored and needs_rehash(stored):
            new_hash = hash_password(password)
            await self.write(
                lambda c: store.update_user(c, user.id, utcnow(), password_hash=new_hash)
            )
        return await self.start_session(user, address, agent, Action.LOGIN)

    async def start_session(
        self, user: User, address: str, agent: str, action: Action, detail: str = ""
    ) -> tuple[Principal, str]:
        secret, id_hash = new_secret()
        now = utcnow()
        principal = principal_for(user, Via.SESSION, address, session=id_hash)
        expires = later(self.config.max_age, now)
        await self.write_audited(
            lambda c: store.insert_session(c, id_hash, user.id, now, expires, address, agent),
            entry(principal, action, detail=detail),
        )
        return principal, secret

    async def use_link(self, secret: str, address: str, agent: str) -> tuple[Principal, str]:
        link = digest(secret)
        user_id = await self.write(lambda c: store.use_link(c, link, utcnow()))
        user = await self._user_by_id(user_id) if user_id else None
        if user is None or user.disabled:
            await self.audit.record(entry(None, Action.LOGIN_FAILED, outcome="denied",
                                          address=address, detail="login link"))  # fmt: skip
            raise InvalidLink("That sign-in link is not valid (any more)")
        return await self.start_session(user, address, agent, Action.LOGIN, "login link")

    async def new_link(self, user: User, actor: Principal | None) -> str:
        secret, link = new_secret()
        now = utcnow()
        expires = later(self.config.link_ttl, now)
        note = entry(actor, Action.USER_LINK, username=_actor_name(actor), detail=user.username)
        await self.write_audited(lambda c: store.insert_link(c, link, user.id, now, expires), note)
        return secret

    async def logout(self, principal: Principal) -> None:
        session = principal.session
        if session is None:
            return
        now = utcnow()
        await self.write_audited(
            lambda c: store.end_session(c, session, "logout", now), entry(principal, Action.LOGOUT)
        )
        self.ended(session=session)

    # --- who is asking ----------------------------------------------------------------

    async def _user_by_id(self, user_id: int) -> User | None:
        async with self.db.read() as conn:
            return await store.get_user(conn, user_id)

    async def from_session(
        self, secret: str, address: str, *, touch: bool = True
    ) -> Principal | None:
        """None for an unknown session; SessionEnded for one that has ended."""
        id_hash = digest(secret)
        async with self.db.read() as conn:
            row = await store.get_session(conn, id_hash)
            user = await store.get_user(conn, row.user_id) if row else None
        if row is None or user is None:
            return None
        if row.ended_at is not None:
            raise SessionEnded("Your session has ended; sign in again")
        principal = principal_for(user, Via.SESSION, address, session=id_hash)
        if user.disabled:
            await self.end_session(principal, "disabled")
            raise SessionEnded("Your account is disabled")
        idle = age(row.last_seen_at)
        if idle > self.config.idle_timeout or age(row.expires_at) > 0:
            reason = "idle" if idle > self.config.idle_timeout else "max_age"
            await self.end_session(principal, reason)
            raise SessionEnded("Your session has timed out; sign in again")
        if touch and idle > self.config.touch_every:
            await self.write(lambda c: store.touch_session(c, id_hash, utcnow()))
        return principal

    async def end_session(self, principal: Principal, reason: str) -> None:
        session = principal.session
        assert session is not None
        note = entry(principal, Action.SESSION_EXPIRED, outcome=reason)
        ended = await self.write(lambda c: store.end_session(c, session, reason, utcnow()))
        if ended:
            await self.audit.record(note)
        self.ended(session=session)

    async def session_deadlines(self, principal: Principal) -> dict[str, str]:
        assert principal.session is not None
        async with self.db.read() as conn:
            row = await store.get_session(conn, principal.session)
        if row is None:
            return {}
        idle = later(self.config.idle_timeout, row.last_seen_at)
        return {"idle_expires_at": min(idle, row.expires_at), "expires_at": row.expires_at}

    async def from_token(
        self, secret: str, address: str, *, recent: bool = False
    ) -> Principal | None:
        """recent=True (WebSocket handshakes): a verification up to RECHECK_S old will do
        (identity/recent.py says why that is as safe as the open sockets), and handshakes
        that arrive together with one token share one read."""
        if not secret or len(secret) > 200:
            return None
        token_hash = digest(secret)
        if not recent:
            return await self._verify_token(token_hash, address)
        seen = self.recent_tokens.get(token_hash, address)
        if seen is not None:
            return seen
        flight = self._verifying.get(token_hash)
        if flight is None:
            flight = asyncio.ensure_future(self._verify_token(token_hash, address))
            self._verifying[token_hash] = flight
            flight.add_done_callback(lambda _: self._verifying.pop(token_hash, None))
        principal = await asyncio.shield(flight)  # a client that leaves cancels only itself
        if principal is None or principal.address == address:
            return principal
        return replace(principal, address=address)

    async def _verify_token(self, token_hash: str, address: str) -> Principal | None:
        generation = self.recent_tokens.generation
        async with self.db.read() as conn:
            token = await store.get_token(conn, token_hash)
            user = await store.get_user(conn, token.user_id) if token else None
        if token is None or user is None or token.revoked_at or user.disabled:
            return None
        self._touch_token(token.id)
        principal = principal_for(user, Via.TOKEN, address, Role(token.role), token_id=token.id)
        self.recent_tokens.put(token_hash, principal, generation)
        return principal

    def _touch_token(self, token_id: int) -> None:
        now = time.monotonic()
        if now - self._token_touched.get(token_id, -TOUCH_TOKEN_EVERY) < TOUCH_TOKEN_EVERY:
            return
        self._token_touched[token_id] = now
        stamp = utcnow()
        # Not awaited: a request never waits for its token's last-used time.
        task = asyncio.get_running_loop().create_task(
            self.write(lambda c: store.touch_token(c, token_id, stamp))
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def still_valid(self, principals: list[Principal]) -> set[Principal]:
        """Of these (open sockets'), the ones whose session or token still holds: the
        sweep closes the others, including after a change made by the CLI."""
        sessions = [p.session for p in principals if p.session]
        tokens = [p.token_id for p in principals if p.token_id is not None]
        async with self.db.read() as conn:
            states = await store.session_states(conn, sessions)
            live_tokens = await store.live_tokens(conn, tokens)
        gone = set(tokens) - live_tokens  # e.g. revoked by the CLI: no new handshakes either
        if gone:
            self.recent_tokens.forget(lambda p: p.token_id in gone)
        valid: set[Principal] = set()
        for p in principals:
            if (p.token_id is not None and p.token_id in live_tokens) or (
                p.session and await self._session_holds(p, states.get(p.session))
            ):
                valid.add(p)
        return valid

    async def _session_holds(self, principal: Principal, state: store.SessionState | None) -> bool:
        if state is None or state.ended_at is not None or state.disabled:
            return False
        idle = age(state.last_seen_at)
        if idle > self.config.idle_timeout or age(state.expires_at) > 0:
            await self.end_session(
                principal, "idle" if idle > self.config.idle_timeout else "max_age"
            )
            return False
        return True


def _actor_name(actor: Principal | None) -> str:
    return actor.username if actor else "cli"
