"""RecentTokens: the WebSocket handshake's memory of tokens verified in the last
seconds, forgotten at once on a change and never kept from a read a change overtook."""

from __future__ import annotations

import asyncio
from unittest import mock

from tests.helpers.people import token_for

from ocrlive.audit.log import AuditLog
from ocrlive.identity.permissions import Principal, Role, Via, held_permissions
from ocrlive.identity.recent import RecentTokens
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.settings import Settings
from ocrlive.store import people as people_store
from ocrlive.store.database import Database


def principal(token_id: int = 7, user_id: int = 3, address: str = "10.0.0.1") -> Principal:
    perms = held_permissions(Role.CLERK, Role.CLERK)
    return Principal(user_id, "nurse", Role.CLERK, Via.TOKEN, address, perms, None, token_id)


def test_a_verification_is_reused_for_its_ttl_only() -> None:
    recent = RecentTokens(ttl=5.0)
    with mock.patch("ocrlive.identity.recent.time.monotonic", return_value=100.0):
        recent.put("h", principal(), recent.generation)
        assert recent.get("h", "10.0.0.1") == principal()
        assert recent.get("other", "10.0.0.1") is None
    with mock.patch("ocrlive.identity.recent.time.monotonic", return_value=105.0):
        assert recent.get("h", "10.0.0.1") is None
    assert len(recent) == 0


def test_one_principal_per_address_is_shared() -> None:
    recent = RecentTokens()
    recent.put("h", principal(), recent.generation)
    assert recent.get("h", "10.0.0.1") is recent.get("h", "10.0.0.1")
    elsewhere = recent.get("h", "10.0.0.2")
    assert elsewhere is not None and elsewhere.address == "10.0.0.2"
    assert elsewhere.permissions is principal().permissions  # one set per role pair


def test_a_change_forgets_what_it_covers_and_a_read_it_overtook_is_not_kept() -> None:
    recent = RecentTokens()
    recent.put("a", principal(token_id=1), recent.generation)
    recent.put("b", principal(token_id=2), recent.generation)
    before = recent.generation  # a read starts here...
    recent.forget(lambda p: p.token_id == 1)  # ...a revocation lands meanwhile...
    recent.put("a", principal(token_id=1), before)  # ...and the read ends: not kept
    assert recent.get("a", "10.0.0.1") is None
    assert recent.get("b", "10.0.0.1") is not None


def test_it_stays_bounded() -> None:
    recent = RecentTokens(max_entries=3)
    for n in range(10):
        recent.put(f"h{n}", principal(token_id=n), recent.generation)
    assert len(recent) <= 3
    assert recent.get("h9", "10.0.0.1") is not None


async def test_handshakes_that_arrive_together_share_one_read(settings: Settings) -> None:
    """A ward's dashboards reconnecting at once with one token: one database read (each
    read beyond the pool's five opened a connection and a thread of its own)."""
    secret = await token_for(settings, "nurse", "clerk")
    db = Database.open(settings.database)
    try:
        ident = Identity(db, AuditLog(db.writer), IdentityConfig())
        with mock.patch.object(people_store, "get_token", wraps=people_store.get_token) as reads:
            found = await asyncio.gather(
                *(ident.from_token(secret, f"10.0.0.{n % 3}", recent=True) for n in range(20))
            )
            assert reads.call_count == 1
            assert {p.address for p in found if p is not None} == {"10.0.0.0", "10.0.0.1",
                                                                   "10.0.0.2"}  # fmt: skip
            assert all(p is not None and p.username == "nurse" for p in found)
            assert await ident.from_token(secret, "10.0.0.9") is not None  # HTTP: reads
            assert reads.call_count == 2
            assert await ident.from_token("olt_wrong", "10.0.0.1", recent=True) is None
    finally:
        await db.close()
