"""The operations commands: the desktop start, serve, doctor, backup, restore,
service install."""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocrlive.ops.instance import AlreadyRunning, Instance
from ocrlive.settings import Settings

STARTING_WAIT_S = 300.0  # a first start lays out the models and migrates: ~20 s here


def desktop(settings: Settings, *, browser: bool, explicit_port: bool) -> int:
    """Serve on this machine and open the browser signed in; if this data folder is
    already served, open that server (signed in) instead."""
    return _serve(settings, desktop=True, browser=browser, fallback_port=not explicit_port)


def serve(settings: Settings) -> int:
    return _serve(settings, desktop=False, browser=False, fallback_port=False)


def _serve(settings: Settings, *, desktop: bool, browser: bool, fallback_port: bool) -> int:
    from ocrlive.ops.prepare import prepare, tls_context
    from ocrlive.ops.server import run_server

    try:
        tls = tls_context(settings)
    except (OSError, ssl.SSLError, ValueError) as exc:
        print(f"ocrlive: cannot use the TLS certificate: {exc}", file=sys.stderr)
        return 2
    instance = Instance(settings.data_dir)
    try:
        # On PostgreSQL several nodes serve one database and may share one data folder
        # (README: Deployment on several machines): the lock is SQLite's one-server rule.
        if not settings.database_url:
            instance.acquire()
    except AlreadyRunning as running:
        return _already_running(settings, running, desktop=desktop, browser=browser)
    try:
        prepare(settings)
        asyncio.run(run_server(settings, tls, instance, desktop=desktop, browser=browser,
                               fallback_port=fallback_port))  # fmt: skip
    finally:
        instance.release()
    return 0


def _already_running(
    settings: Settings, running: AlreadyRunning, *, desktop: bool, browser: bool
) -> int:
    if not desktop:
        print(f"ocrlive: {running} (pid {running.info.get('pid')}); not starting a second "
              "server on the same data folder", file=sys.stderr)  # fmt: skip
        return 1
    url = _wait_for_url(Instance(settings.data_dir), running.info)
    if url is None:
        print(f"ocrlive: another ocrlive holds {settings.data_dir} but does not say where "
              "it serves; stop it or wait until it has started", file=sys.stderr)  # fmt: skip
        return 1
    print(f"ocrlive is already running at {url}/ (data in {settings.data_dir}); opening it",
          flush=True)  # fmt: skip
    _open_signed_in(settings, url, browser=browser)
    return 0


def _wait_for_url(instance: Instance, info: dict[str, Any]) -> str | None:
    """The running server writes its address once bound; a second start during its
    first start waits for it."""
    deadline = time.monotonic() + STARTING_WAIT_S
    while not info.get("url") and time.monotonic() < deadline:
        time.sleep(0.5)
        info = instance.read_info()
    url = info.get("url")
    return str(url) if url else None


def _open_signed_in(settings: Settings, url: str, *, browser: bool) -> None:
    from ocrlive.ops.desktop import sign_in_secret_cli
    from ocrlive.ops.server import announce_link, login_url

    secret = asyncio.run(sign_in_secret_cli(settings))
    if secret is None:
        print("no administrator can sign in with a link here; sign in with your password")
        return
    announce_link(login_url(url, secret), desktop=True, browser=browser)


def doctor(settings: Settings, _args: argparse.Namespace) -> int:
    from ocrlive.ops.doctor import doctor_main

    return doctor_main(settings)


def backup(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.backup import backup as make_backup

    manifest = _backup_step("backup", make_backup, settings, args.dest)
    if manifest is None:
        return 1
    rows = ", ".join(f"{n} {t}" for t, n in sorted(manifest["rows"].items()))
    print(f"backed up {settings.data_dir} to {args.dest}: {len(manifest['files'])} files; {rows}")
    return 0


def restore(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.backup import restore as restore_backup

    manifest = _backup_step("restore", restore_backup, settings, args.src)
    if manifest is None:
        return 1
    print(f"restored {args.src} ({manifest['created_at']}) into {settings.data_dir}; "
          f"start it with: ocrlive serve --data-dir {settings.data_dir}")  # fmt: skip
    return 0


def _backup_step(
    name: str, step: Callable[[Settings, Path], dict[str, Any]], settings: Settings, path: Path
) -> dict[str, Any] | None:
    from ocrlive.ops.backup import BackupError

    try:
        return step(settings, path)
    except BackupError as exc:
        print(f"ocrlive {name}: {exc}", file=sys.stderr)
        return None


def service(settings: Settings, args: argparse.Namespace) -> int:
    from ocrlive.ops.service import STATE_ROOT, UnitOptions, install_unit

    data_dir = getattr(args, "data_dir", None) or STATE_ROOT / "ocrlive"
    options = UnitOptions(data_dir=data_dir, host=settings.host, port=settings.port,
                          user=args.user)  # fmt: skip
    print(install_unit(options, args.unit_path, enable=args.enable))
    return 0
