"""Passwords (policy, Argon2id, rehash on a parameter change), the sign-in backoff,
trusted-proxy addresses and roles as sets of permissions."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from argon2 import PasswordHasher

from ocrlive.identity import passwords
from ocrlive.identity.addresses import client_address, parse_networks
from ocrlive.identity.passwords import PasswordRejected, check_policy
from ocrlive.identity.permissions import ROLE_PERMISSIONS, Permission, Role, role_within
from ocrlive.identity.throttle import Backoff


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1!", "at least 12"),
        ("password1234", "too easy"),
        ("aaaaaaaaaaaaaaa", "too few"),
        ("xx-nurse-jones-xx", "too easy"),
        ("abababababababab", "too few"),
    ],
)
def test_the_policy_refuses_weak_passwords(password: str, why: str) -> None:
    with pytest.raises(PasswordRejected, match=why):
        check_policy(password, "nurse-jones")


def test_a_good_password_is_hashed_with_argon2id_and_verified() -> None:
    check_policy("violet kettle 9 harbour", "nurse")
    stored = passwords.hash_password("violet kettle 9 harbour")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "violet kettle 9 harbour")
    assert not passwords.verify_password(stored, "violet kettle 9 harbour!")
    assert not passwords.verify_password(None, "anything at all")


def test_a_hash_made_with_older_parameters_needs_a_rehash() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8192).hash("violet kettle 9 harbour")
    assert passwords.needs_rehash(old)
    assert not passwords.needs_rehash(passwords.hash_password("violet kettle 9 harbour"))


def test_backoff_waits_double_then_forgets_and_clears() -> None:
    b = Backoff(free=3, cap=8.0, forget=100.0)
    for t in range(3):
        b.fail("k", now=float(t))
    assert b.wait("k", now=2.0) == pytest.approx(1.0)  # 2^0 after the last failure
    b.fail("k", now=3.0)
    assert b.wait("k", now=3.0) == pytest.approx(2.0)
    for t in range(4, 12):
        b.fail("k", now=float(t))
    assert b.wait("k", now=11.0) == pytest.approx(8.0)  # capped
    assert b.wait("k", now=200.0) == 0.0  # forgotten after a quiet window
    b.clear("k")
    assert b.wait("k", now=11.0) == 0.0


def request_from(peer: str, forwarded: str) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 1234) if name == "peername" else default
    )
    return make_mocked_request("GET", "/", headers={"X-Forwarded-For": forwarded},
                               transport=transport)  # fmt: skip


def test_forwarded_address_only_through_trusted_proxies() -> None:
    trusted = parse_networks("10.0.0.0/8, 192.168.1.5")
    chain = "6.6.6.6, 1.2.3.4, 10.0.0.7"  # a forged first hop, the client, our inner proxy
    assert client_address(request_from("192.168.1.5", chain), trusted) == "1.2.3.4"
    assert client_address(request_from("172.16.0.1", chain), trusted) == "172.16.0.1"
    assert client_address(request_from("192.168.1.5", "10.0.0.3"), trusted) == "192.168.1.5"
    with pytest.raises(ValueError, match="not an address"):
        parse_networks("10.0.0.0/8, nonsense")


def test_roles_are_sets_of_permissions() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Permission.TASK_UPLOAD not in ROLE_PERMISSIONS[Role.CLINICIAN]
    assert ROLE_PERMISSIONS[Role.AUDITOR] == {Permission.AUDIT_READ}
    assert role_within(Role.CLERK, Role.ADMIN) and not role_within(Role.CLERK, Role.CLINICIAN)
