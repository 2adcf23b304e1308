"""Built-in TLS (--tls-cert/--tls-key): HTTPS with the configured certificate, the
session cookie marked Secure, HSTS sent; a half-configured certificate is refused."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.helpers.people import PASSWORD, token_for

from ocrlive.app import create_app
from ocrlive.ops.prepare import tls_context as _tls
from ocrlive.settings import Settings

FAKE_ENGINE = "ocrlive.ocr.fake:FakeEngine"


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ocrlive.test")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


async def test_https_with_a_secure_session_cookie(
    aiohttp_server: Any, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    settings = make_settings(tls_cert=cert, tls_key=key)
    await token_for(settings, "admin", "admin")
    server = await aiohttp_server(
        create_app(settings, engine_factory=FAKE_ENGINE), ssl=_tls(settings)
    )
    trust = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{server.port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        resp = await browser.post(f"{base}/api/login", ssl=trust, headers={"Origin": base},
                                  json={"username": "admin", "password": PASSWORD})  # fmt: skip
        assert resp.status == 200
        cookie = resp.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
        assert (await browser.get(f"{base}/api/tasks", ssl=trust)).status == 200


def test_a_certificate_without_its_key_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ValueError, match="go together"):
        _tls(make_settings(tls_cert=cert))
