"""`ocrlive service install`: the unit systemd would load, hardened, checked with
systemd's own `systemd-analyze verify` and `systemd-analyze security`."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

from ocrlive.cli import main


def install(tmp_path: Path, *extra: str) -> configparser.ConfigParser:
    unit = tmp_path / "ocrlive.service"
    assert main(["service", "install", "--unit-path", str(unit), *extra]) == 0
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return parser


def test_unit_is_hardened_and_restarts(tmp_path: Path) -> None:
    service = install(tmp_path, "--host", "0.0.0.0", "--port", "8443")["Service"]
    assert service["ExecStart"].split() == [sys.executable, "-m", "ocrlive", "serve", "--host",
                                            "0.0.0.0", "--port", "8443", "--data-dir",
                                            "/var/lib/ocrlive"]  # fmt: skip
    assert service["DynamicUser"] == "yes" and service["User"] == "ocrlive"
    assert service["StateDirectory"] == "ocrlive"
    assert service["Restart"] == "on-failure" and service["Type"] == "notify"
    assert service["KillSignal"] == "SIGTERM"
    hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                 "CapabilityBoundingSet": "",
                 "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}  # fmt: skip
    for option, value in hardening.items():
        assert service[option] == value, option
    assert service["StandardOutput"] == "journal"
    unit = (tmp_path / "ocrlive.service").read_text()
    assert "Environment=HOME=/var/lib/ocrlive\n" in unit  # PaddleX writes its cache there


def test_data_folder_outside_var_lib_uses_a_fixed_user(tmp_path: Path) -> None:
    service = install(tmp_path, "--data-dir", "/srv/ocrlive", "--user", "ocr")["Service"]
    assert service["User"] == "ocr" and service["ReadWritePaths"] == "/srv/ocrlive"
    assert "DynamicUser" not in service


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    install(tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "ocrlive.service")],
                          capture_output=True, text=True)  # fmt: skip
    problems = [line for line in done.stderr.splitlines() if "ocrlive.service" in line]
    assert problems == [], done.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                               str(tmp_path / "ocrlive.service")],
                              capture_output=True, text=True)  # fmt: skip
    exposure = float(security.stdout.split("Overall exposure level for ocrlive.service:")[1]
                     .split()[0])  # fmt: skip
    assert exposure <= 4.0, security.stdout  # systemd calls <= 4.9 "OK"; unhardened is 9.6
