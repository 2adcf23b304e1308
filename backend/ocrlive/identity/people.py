"""Managing people and their API tokens: the admin pages and `ocrlive users|tokens`.

`actor` is who makes the change (None: the command line on the server itself). Each
change is written together with its audit row; a change that must end sessions ends
them in the same transaction, then tells the open sockets (close 4001)."""

from __future__ import annotations

import re

from ocrlive.audit.actions import Action
from ocrlive.audit.log import entry
from ocrlive.errors import AlreadyExists, Forbidden, InvalidRequest, NotFound, WeakPassword
from ocrlive.events import utcnow
from ocrlive.identity.passwords import PasswordRejected, check_policy, hash_password
from ocrlive.identity.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Role,
    parse_role,
    role_within,
)
from ocrlive.identity.secrets import TOKEN_PREFIX, new_secret
from ocrlive.identity.service import Identity
from ocrlive.store import people as store
from ocrlive.store.people import TokenRow, User
from ocrlive.store.sqlite.writer import Connection

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
FIRST_ADMIN = "admin"


def _name(actor: Principal | None) -> str:
    return actor.username if actor else "cli"


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.match(name):
        raise InvalidRequest(
            "username: 1-64 of a-z, 0-9 and . _ @ -, starting with a letter or digit"
        )
    return name


def _role(value: str) -> Role:
    try:
        return parse_role(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def _policy(password: str, username: str) -> str:
    try:
        check_policy(password, username)
    except PasswordRejected as exc:
        raise WeakPassword(str(exc)) from None
    return hash_password(password)


async def existing(identity: Identity, username: str) -> User:
    user = await identity.user(username)
    if user is None:
        raise NotFound(f"No person named {username[:64]!r}")
    return user


async def add_user(
    identity: Identity, actor: Principal | None, username: str, role: str,
    password: str | None = None, source: str = "local",
) -> User:  # fmt: skip
    name, held = check_username(username), _role(role)
    hashed = _policy(password, name) if password is not None else None
    if await identity.user(name) is not None:
        raise AlreadyExists(f"A person named {name!r} exists")
    note = entry(actor, Action.USER_ADD, username=_name(actor), detail=f"{name} as {held}")
    now = utcnow()
    await identity.write_audited(
        lambda c: store.insert_user(c, name, held.value, hashed, source, now), note
    )
    return await existing(identity, name)


async def set_role(identity: Identity, actor: Principal | None, username: str, role: str) -> User:
    user, held = await existing(identity, username), _role(role)
    _not_self(actor, user, "change your own role")
    keep = [r.value for r in Role if role_within(r, held)]
    note = entry(actor, Action.USER_ROLE, username=_name(actor),
                 detail=f"{user.username}: {user.role} -> {held}")  # fmt: skip

    def run(conn: Connection) -> None:
        now = utcnow()
        store.update_user(conn, user.id, now, role=held.value)
        store.end_user_sessions(conn, user.id, "role changed", now)
        store.revoke_tokens_outside(conn, user.id, keep, now)

    await identity.write_audited(run, note)
    identity.ended(user_id=user.id)
    return await existing(identity, user.username)


async def set_password(
    identity: Identity, actor: Principal | None, username: str, password: str
) -> User:
    user = await existing(identity, username)
    hashed = _policy(password, user.username)
    note = entry(actor, Action.USER_PASSWORD, username=_name(actor), detail=user.username)
    own = actor is not None and actor.user_id == user.id

    def run(conn: Connection) -> None:
        now = utcnow()
        store.update_user(conn, user.id, now, password_hash=hashed)
        if not own:  # a reset by someone else ends the person's sessions
            store.end_user_sessions(conn, user.id, "password reset", now)

    await identity.write_audited(run, note)
    if not own:
        identity.ended(user_id=user.id)
    return await existing(identity, user.username)


async def set_disabled(
    identity: Identity, actor: Principal | None, username: str, disabled: bool
) -> User:
    user = await existing(identity, username)
    if disabled:
        _not_self(actor, user, "disable yourself")
    action = Action.USER_DISABLE if disabled else Action.USER_ENABLE
    note = entry(actor, action, username=_name(actor), detail=user.username)

    def run(conn: Connection) -> None:
        now = utcnow()
        store.update_user(conn, user.id, now, disabled=int(disabled))
        if disabled:
            store.end_user_sessions(conn, user.id, "disabled", now)

    await identity.write_audited(run, note)
    if disabled:
        identity.ended(user_id=user.id)
    return await existing(identity, user.username)


def _not_self(actor: Principal | None, user: User, what: str) -> None:
    # The last administrator locking themselves out would need the command line.
    if actor is not None and actor.user_id == user.id:
        raise Forbidden(f"You cannot {what}; ask another administrator")


async def list_users(identity: Identity) -> list[User]:
    async with identity.db.read() as conn:
        return await store.list_users(conn)


async def first_run(identity: Identity) -> str | None:
    """With nobody yet: an `admin` without a password and a single-use sign-in link
    (its secret); the admin then sets a password in the browser."""
    async with identity.db.read() as conn:
        if await store.count_users(conn):
            return None
    try:
        user = await add_user(identity, None, FIRST_ADMIN, Role.ADMIN.value)
    except Exception as exc:  # two nodes of one PostgreSQL starting at once: one wins
        if isinstance(exc, AlreadyExists) or store.is_duplicate(exc):
            return None
        raise
    return await identity.new_link(user, None)


# --- API tokens ----------------------------------------------------------------------


async def create_token(
    identity: Identity, actor: Principal | None, owner: User, name: str, role: str | None = None,
    secret: str | None = None,
) -> tuple[str, TokenRow]:  # fmt: skip
    """A new token (its secret is shown this once). `secret` imports an existing one
    (the old OCRLIVE_TOKEN of a script) from the command line only."""
    label = name.strip()[:100]
    if not label:
        raise InvalidRequest("name is required")
    held = _role(role) if role else Role(owner.role)
    if not role_within(held, Role(owner.role)):
        raise Forbidden(f"A token of {owner.username} can carry {owner.role} or less, not {held}")
    if actor is not None and actor.user_id != owner.id:
        _require(actor, Permission.TOKENS_MANAGE)
    if secret is not None and (actor is not None or len(secret) < 20):
        raise InvalidRequest("An imported token needs at least 20 characters")
    value, hashed = new_secret(TOKEN_PREFIX) if secret is None else (secret, _hash(secret))
    note = entry(actor, Action.TOKEN_CREATE, username=_name(actor),
                 detail=f"{label!r} for {owner.username} as {held}")  # fmt: skip
    now = utcnow()
    token_id = await identity.write_audited(
        lambda c: store.insert_token(c, owner.id, label, hashed, value[:8], held.value, now), note
    )
    async with identity.db.read() as conn:
        row = await store.get_token_by_id(conn, token_id)
    assert row is not None
    return value, row


def _hash(secret: str) -> str:
    from ocrlive.identity.secrets import digest

    return digest(secret)


def _require(actor: Principal, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(f"This needs the permission {permission.value}")


async def revoke_token(identity: Identity, actor: Principal | None, token_id: int) -> TokenRow:
    async with identity.db.read() as conn:
        row = await store.get_token_by_id(conn, token_id)
    if row is None:
        raise NotFound(f"No token {token_id}")
    if actor is not None and actor.user_id != row.user_id:
        _require(actor, Permission.TOKENS_MANAGE)
    note = entry(actor, Action.TOKEN_REVOKE, username=_name(actor), detail=f"token {token_id}")
    await identity.write_audited(lambda c: store.revoke_token(c, token_id, utcnow()), note)
    identity.ended(token_id=token_id)
    async with identity.db.read() as conn:
        revoked = await store.get_token_by_id(conn, token_id)
    assert revoked is not None
    return revoked


async def list_tokens(identity: Identity, user_id: int | None) -> list[tuple[TokenRow, str]]:
    async with identity.db.read() as conn:
        return await store.list_tokens(conn, user_id)


def permissions_of(role: Role) -> list[str]:
    return sorted(p.value for p in ROLE_PERMISSIONS[role])


async def signed_on(identity: Identity, username: str, role: Role) -> User:
    """The person a single sign-on names: created on first sign-in, their role kept in
    step with the provider's claims. A local account of the same name is never taken
    over by a provider's say-so."""
    name = check_username(username)
    user = await identity.user(name)
    if user is None:
        return await add_user(identity, None, name, role.value, source="oidc")
    if user.source != "oidc":
        raise Forbidden(f"{name!r} is a local account; sign in with its password")
    if user.disabled:
        raise Forbidden("Your account is disabled")
    if user.role != role.value:
        user = await set_role(identity, None, name, role.value)
    return user
