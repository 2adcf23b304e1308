"""`ocrlive users|tokens|audit|login-link`: people, API tokens and the audit log from
the server's own command line (the actor recorded in the audit log is `cli`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from ocrlive.audit.actions import Action
from ocrlive.audit.log import AuditLog, entry
from ocrlive.errors import ApiError
from ocrlive.identity import people
from ocrlive.identity.permissions import Role
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.settings import Settings
from ocrlive.store import audit as audit_store
from ocrlive.store.database import Database
from ocrlive.store.db import migrate

T = TypeVar("T")
ROLES = [r.value for r in Role]


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
) -> None:
    users = sub.add_parser("users", help="people and their roles").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", help="add a person")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--link", action="store_true", help="no password: print a sign-in link")
    users.add_parser("list", help="everyone, with role and state")
    role = users.add_parser("set-role", help="change a role (ends their sessions)")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    pw = users.add_parser("set-password", help="set a password (ends their sessions)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    for name, text in (
        ("disable", "disable (ends sessions, closes sockets)"),
        ("enable", "enable"),
    ):
        users.add_parser(name, help=text).add_argument("username")
    link = users.add_parser("link", help="print a single-use sign-in link (15 minutes)")
    link.add_argument("username")
    tokens = sub.add_parser("tokens", help="personal API tokens").add_subparsers(
        dest="action", required=True
    )
    create = tokens.add_parser("create", help="make a token (printed once)")
    create.add_argument("name")
    create.add_argument("--user", required=True)
    create.add_argument("--role", choices=ROLES, help="the owner's role or less")
    create.add_argument(
        "--from-stdin",
        action="store_true",
        help="import an existing secret (e.g. the old OCRLIVE_TOKEN) from stdin",
    )
    tokens.add_parser("list", help="every token").add_argument("--user")
    tokens.add_parser("revoke", help="revoke a token").add_argument("id", type=int)
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser("verify", help="check the hash chain; names the first altered row")
    export = audit.add_parser("export", help="CSV of a date range")
    export.add_argument("--from", dest="since", required=True, help="e.g. 2026-11-01")
    export.add_argument("--to", dest="until", required=True, help="exclusive, e.g. 2026-12-01")
    export.add_argument("--output", type=Path, help="file (default: stdout)")
    for parser in (*users.choices.values(), *tokens.choices.values(), *audit.choices.values()):
        common(parser)


def run(args: argparse.Namespace, settings: Settings, login_url: Callable[[str], str]) -> int:
    migrate(settings.database)
    if args.command == "audit" and args.action == "verify":
        return asyncio.run(verify(settings.database))
    try:
        return asyncio.run(_managed(settings, lambda ident: _dispatch(args, ident, login_url)))
    except ApiError as exc:
        print(f"ocrlive: {exc.message}", file=sys.stderr)
        return 1


async def _managed(settings: Settings, fn: Callable[[Identity], Awaitable[T]]) -> T:
    db = Database.open(settings.database)
    try:
        config = IdentityConfig(idle_timeout=settings.session_idle_minutes * 60)
        return await fn(Identity(db, AuditLog(db.writer), config))
    finally:
        await db.close()


async def _dispatch(
    args: argparse.Namespace, ident: Identity, login_url: Callable[[str], str]
) -> int:
    handlers = {("users", "add"): _users_add, ("users", "list"): _users_list,
                ("tokens", "create"): _tokens_create, ("tokens", "list"): _tokens_list,
                ("audit", "export"): _audit_export}  # fmt: skip
    handler = handlers.get((args.command, args.action))
    if handler is not None:
        return await handler(args, ident, login_url)
    if args.action == "set-role":
        await people.set_role(ident, None, args.username, args.role)
    elif args.action == "set-password":
        await people.set_password(ident, None, args.username, _password(args))
    elif args.action in ("disable", "enable"):
        await people.set_disabled(ident, None, args.username, args.action == "disable")
    elif args.action == "link":
        user = await people.existing(ident, args.username)
        print(login_url(await ident.new_link(user, None)))
        return 0
    elif args.action == "revoke":
        await people.revoke_token(ident, None, args.id)
    print("done")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ApiError("The two passwords differ")
    return first


async def _users_add(
    args: argparse.Namespace, ident: Identity, login_url: Callable[[str], str]
) -> int:
    password = None if args.link else _password(args)
    user = await people.add_user(ident, None, args.username, args.role, password)
    print(f"added {user.username} ({user.role})")
    if args.link:
        print(
            f"sign-in link (single use, 15 minutes): {login_url(await ident.new_link(user, None))}"
        )
    return 0


async def _users_list(args: argparse.Namespace, ident: Identity, _url: Callable[[str], str]) -> int:
    for u in await people.list_users(ident):
        state = "disabled" if u.disabled else ("active" if u.password_hash or u.source != "local"
                                                else "no password yet")  # fmt: skip
        print(f"{u.username:24} {u.role:10} {state:16} {u.source}")
    return 0


async def _tokens_create(
    args: argparse.Namespace, ident: Identity, _url: Callable[[str], str]
) -> int:
    owner = await people.existing(ident, args.user)
    secret = sys.stdin.readline().strip() if args.from_stdin else None
    value, row = await people.create_token(ident, None, owner, args.name, args.role, secret)
    print(f"token {row.id} {row.name!r} for {owner.username} as {row.role} (shown once):")
    print(value)
    return 0


async def _tokens_list(
    args: argparse.Namespace, ident: Identity, _url: Callable[[str], str]
) -> int:
    user_id = (await people.existing(ident, args.user)).id if args.user else None
    for row, owner in await people.list_tokens(ident, user_id):
        state = f"revoked {row.revoked_at}" if row.revoked_at else f"last used {row.last_used_at}"
        print(f"{row.id:5} {row.name[:30]:30} {owner:20} {row.role:10} {row.prefix}… {state}")
    return 0


async def _audit_export(
    args: argparse.Namespace, ident: Identity, _url: Callable[[str], str]
) -> int:
    import csv

    since, until = (datetime.fromisoformat(v).isoformat() for v in (args.since, args.until))
    async with ident.db.read() as conn:
        rows = await audit_store.stream(
            conn, audit_store.Filters(since=since, until=until, limit=10**9)
        )
    note = entry(None, Action.AUDIT_EXPORT, username="cli", detail=f"from={since} to={until}")
    await ident.audit.record(note)  # reading the audit log is itself on the record
    out = args.output.open("w", newline="") if args.output else sys.stdout
    writer = csv.writer(out)
    writer.writerow(audit_store.COLUMNS.split(", "))
    writer.writerows(rows)
    if args.output:
        out.close()
        print(f"{len(rows)} rows written to {args.output}", file=sys.stderr)
    return 0


async def verify(database: Path | str) -> int:
    db = Database.open(database)
    try:
        verdict = await db.writer.run(audit_store.verify)  # in one transaction: one snapshot
    finally:
        await db.close()
    if verdict.ok:
        print(f"audit log intact: {verdict.rows} rows, chain unbroken")
        return 0
    print(f"audit log TAMPERED: {verdict.problem} ({verdict.rows} rows verified before it)")
    return 1
