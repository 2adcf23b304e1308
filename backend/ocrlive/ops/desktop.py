"""The desktop start: `ocrlive` with no command serves this machine's own user, so the
browser it opens is signed in, as the administrator, by a single-use link.

Whoever can start ocrlive on a data folder can already print such a link with
`ocrlive users link admin` (both need write access to the database), so the desktop
start grants nothing new; the link is single-use, valid 15 minutes, and recorded in the
audit log (`user.link`, by `cli`). A second `ocrlive` on the same folder makes a fresh
link the same way and opens the running server with it.
"""

from __future__ import annotations

from ocrlive.identity.people import FIRST_ADMIN, first_run, list_users
from ocrlive.identity.permissions import Role
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.settings import Settings


async def sign_in_secret(identity: Identity, *, every_start: bool) -> str | None:
    """The first start: the new `admin`'s link. Later starts (desktop only): a link for
    the administrator of this machine; None when no administrator can sign in."""
    secret = await first_run(identity)
    if secret is not None or not every_start:
        return secret
    admins = [u for u in await list_users(identity) if u.role == Role.ADMIN and not u.disabled]
    if not admins:
        return None
    # The first-run `admin` when it is still there; else the oldest administrator.
    chosen = min(admins, key=lambda u: (u.username != FIRST_ADMIN, u.id))
    return await identity.new_link(chosen, None)


async def sign_in_secret_cli(settings: Settings) -> str | None:
    """The same, from another process than the server (its own writer, as the CLI)."""
    from ocrlive.audit.log import AuditLog
    from ocrlive.store.database import Database

    db = Database.open(settings.database)
    try:
        identity = Identity(db, AuditLog(db.writer), IdentityConfig())
        return await sign_in_secret(identity, every_start=True)
    finally:
        await db.close()
