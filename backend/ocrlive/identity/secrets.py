"""Opaque random secrets; only their SHA-256 is stored (they carry 256 bits, so a
slow hash adds nothing, and a lookup by hash stays one indexed read)."""

from __future__ import annotations

import hashlib
import secrets as _secrets

TOKEN_PREFIX = "olt_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def new_secret(prefix: str = "") -> tuple[str, str]:
    """(the secret to hand out once, its hash to keep)."""
    secret = prefix + _secrets.token_urlsafe(32)
    return secret, digest(secret)
