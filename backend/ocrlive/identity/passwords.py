"""Password hashing (Argon2id) and the password policy."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # Argon2 hashes anything; this only bounds the work a request can ask for
COMMON = Path(__file__).resolve().parent / "common_passwords.txt"

# argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, t=3, p=4) take
# ~50 ms here; `check_needs_rehash` upgrades stored hashes when they change.
_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """A new password that the policy refuses; the message says why."""


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    words = COMMON.read_text().split()
    return frozenset(w.strip().lower() for w in words if w.strip())


def check_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"A password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"A password may have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords() or (username and username.lower() in lowered):
        raise PasswordRejected("That password is too easy to guess; choose another")
    if len(set(password)) < 4:
        raise PasswordRejected("That password repeats too few characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored or len(password) > MAX_LENGTH:
        # Hash anyway so that an unknown account costs the same time as a known one.
        _hasher.hash(password[:MAX_LENGTH])
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
