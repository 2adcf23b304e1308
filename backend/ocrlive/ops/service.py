"""`ocrlive service install`: a hardened systemd unit for an intranet server.

The unit runs `ocrlive serve` as its own unprivileged user (systemd's DynamicUser,
with the data folder as its StateDirectory under /var/lib), restarts it on failure,
logs to the journal (stdout/stderr) and stops it with SIGTERM, which drains: sockets
close with 1001, running tasks are left in the database and resumed at the next start.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_PATH = Path("/etc/systemd/system/ocrlive.service")
STATE_ROOT = Path("/var/lib")

# The sandbox. Each line is one systemd hardening option; ocrlive needs only its data
# folder writable, TCP/IP and Unix sockets (the worker pipes), and no privileges.
HARDENING = """\
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome={protect_home}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0077"""


@dataclass(frozen=True)
class UnitOptions:
    data_dir: Path = STATE_ROOT / "ocrlive"
    host: str = "127.0.0.1"
    port: int = 8080
    user: str = "ocrlive"
    python: str = sys.executable


def _storage(options: UnitOptions) -> str:
    """Under /var/lib: a StateDirectory owned by the dynamic user. Elsewhere: a fixed
    user that the administrator creates and that owns the folder."""
    data = options.data_dir
    if data.parent == STATE_ROOT:
        return f"DynamicUser=yes\nUser={options.user}\nStateDirectory={data.name}\n" \
               f"StateDirectoryMode=0700"  # fmt: skip
    return f"User={options.user}\nGroup={options.user}\nReadWritePaths={data}"


def render_unit(options: UnitOptions) -> str:
    command = [options.python, "-m", "ocrlive", "serve", "--host", options.host,
               "--port", str(options.port), "--data-dir", str(options.data_dir)]  # fmt: skip
    # A virtualenv under /root or /home stays readable to the service (read-only).
    under_home = options.python.startswith(("/root/", "/home/"))
    hardening = HARDENING.format(protect_home="read-only" if under_home else "yes")
    return f"""\
[Unit]
Description=ocrlive: OCR of patient documents with live progress
After=network-online.target
Wants=network-online.target

[Service]
# The server says READY=1 once it listens and STOPPING=1 as it drains (sd_notify).
Type=notify
NotifyAccess=main
# A first start lays out the models and migrates the database before it listens.
TimeoutStartSec=300s
ExecStart={shlex.join(command)}
{_storage(options)}
Environment=HOME={options.data_dir}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5s
# SIGTERM to the server only; it stops its OCR workers itself, then the rest are killed.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=60s
StandardOutput=journal
StandardError=journal
SyslogIdentifier=ocrlive
LimitNOFILE=65536
{hardening}

[Install]
WantedBy=multi-user.target
"""


def install_unit(options: UnitOptions, path: Path = UNIT_PATH, *, enable: bool = False) -> str:
    """Writes the unit; with `enable`, reloads systemd and starts it. Returns the advice
    printed to the administrator."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_unit(options))
    path.chmod(0o644)
    steps = [f"wrote {path}"]
    if options.data_dir.parent != STATE_ROOT:
        steps.append(f"create the user and the folder: useradd --system {options.user} && "
                     f"install -d -o {options.user} -m 700 {options.data_dir}")  # fmt: skip
    if enable:
        subprocess.run(["systemctl", "daemon-reload"], check=True)
        subprocess.run(["systemctl", "enable", "--now", path.name], check=True)
        steps.append(f"started: journalctl -u {path.stem} -f")
    else:
        steps.append(f"start it: systemctl daemon-reload && systemctl enable --now {path.name}")
    steps.append(f"the first start prints an admin's sign-in link: journalctl -u {path.stem}")
    return "\n".join(steps)
