"""The `ocrlive` command. With no command it starts like a desktop app: it serves on
127.0.0.1 with its data in the user's data folder and opens the browser signed in.
The commands: serve, migrate, models, ingest, users, tokens, audit, doctor, backup,
restore, service, scheduler, worker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from ocrlive import __version__
from ocrlive.ops.logs import LOG_FORMATS, configure_logging
from ocrlive.settings import Settings, load_settings

log = logging.getLogger("ocrlive")


def _add(parser: argparse.ArgumentParser, *flags: str, **kwargs: object) -> None:
    # SUPPRESS: a flag given before the command is not reset by the command's default.
    parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]


def _common(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--data-dir", type=Path, help="data folder (env OCRLIVE_DATA_DIR)")


def _server(parser: argparse.ArgumentParser) -> None:
    _add(parser, "--host", help="address to listen on (default 127.0.0.1)")
    _add(parser, "--port", type=int, help="port (default 8080)")
    _add(parser, "--workers", type=int, help="OCR worker processes")
    _add(parser, "--tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    _add(parser, "--tls-key", type=Path, help="PEM private key of --tls-cert")
    _add(parser, "--log-format", choices=LOG_FORMATS, help="log lines (env OCRLIVE_LOG_FORMAT)")
    _common(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrlive", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ocrlive {__version__}")
    parser.add_argument(
        "--no-browser", action="store_true", help="with no command: print the link only"
    )
    _server(parser)  # the desktop start's flags (no command)
    sub = parser.add_subparsers(dest="command")
    _server(sub.add_parser("serve", help="run the server (migrates the database first)"))
    _common(sub.add_parser("migrate", help="bring the database to the newest schema"))
    migrate_to = sub.add_parser("migrate-to", help="copy this SQLite installation to PostgreSQL")
    migrate_to.add_argument("url", help="postgresql+psycopg://user:password@host:5432/db")
    _common(migrate_to)
    _common(sub.add_parser("models", help="lay out the OCR models (offline) and print where"))
    ingest = sub.add_parser("ingest", help="OCR every document of a folder through a server")
    ingest.add_argument("folder", type=Path)
    ingest.add_argument("--patient-id", required=True)
    ingest.add_argument("--document-type", required=True)
    ingest.add_argument("--url", default="http://127.0.0.1:8080", help="the server")
    ingest.add_argument("--token", help="personal API token (default: env OCRLIVE_API_TOKEN)")
    _common(ingest)
    scheduler = sub.add_parser("scheduler", help="run a Dask scheduler set up for ocrlive")
    scheduler.add_argument("--host", default="0.0.0.0", help="address to listen on")
    scheduler.add_argument("--port", type=int, default=8786, help="port (default 8786)")
    worker = sub.add_parser("worker", help="run OCR worker processes for a Dask scheduler")
    worker.add_argument("--scheduler", required=True, help="the scheduler, tcp://host:8786")
    worker.add_argument("--nworkers", type=int, default=1, help="worker processes (default 1)")
    worker.add_argument(
        "--nthreads", type=int, help="engine threads per process (default: cores / nworkers)"
    )
    worker.add_argument("--gpu", action="store_true", help="read on the GPU (ONNX Runtime CUDA)")
    worker.add_argument("--name", default="", help="worker name prefix (default: host name)")
    _common(worker)
    _ops_parsers(sub)
    from ocrlive.manage import add_parsers

    add_parsers(sub, _common)
    return parser


def _ops_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    doctor = sub.add_parser("doctor", help="check models, database, disk, port; say what to fix")
    doctor.add_argument("--host", help="address the server listens on (default 127.0.0.1)")
    doctor.add_argument("--port", type=int, help="port (default 8080)")
    _common(doctor)
    backup = sub.add_parser("backup", help="back up a data folder, even while serving")
    backup.add_argument("dest", type=Path, help="an empty or new folder")
    _common(backup)
    restore = sub.add_parser("restore", help="restore a backup onto an empty folder")
    restore.add_argument("src", type=Path, help="a folder written by `ocrlive backup`")
    _common(restore)
    service = sub.add_parser("service", help="run ocrlive as a systemd service")
    actions = service.add_subparsers(dest="action", required=True)
    install = actions.add_parser("install", help="write a hardened systemd unit")
    install.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    install.add_argument("--port", type=int, help="port (default 8080)")
    install.add_argument(
        "--unit-path", type=Path, default=Path("/etc/systemd/system/ocrlive.service")
    )
    install.add_argument("--user", default="ocrlive", help="the service's own user")
    install.add_argument("--enable", action="store_true", help="systemctl enable --now it")
    _common(install)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(
            host=getattr(args, "host", None), port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None), workers=getattr(args, "workers", None),
            tls_cert=getattr(args, "tls_cert", None), tls_key=getattr(args, "tls_key", None),
            log_format=getattr(args, "log_format", None),
        )  # fmt: skip
    except ValueError as exc:
        print(f"ocrlive: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    from ocrlive.store.checks import DatabaseProblem

    try:
        return _run(args, settings)
    except DatabaseProblem as exc:
        print(f"ocrlive: cannot start: {exc}", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from ocrlive.ops import commands
    from ocrlive.ops.prepare import check_and_migrate, ensure_models

    if args.command is None:
        # --port demands that port; otherwise a taken one gives way to a free one.
        explicit_port = getattr(args, "port", None) is not None
        return commands.desktop(settings, browser=not args.no_browser, explicit_port=explicit_port)
    if args.command == "serve":
        return commands.serve(settings)
    if args.command == "migrate":
        from ocrlive.store.db import describe

        check_and_migrate(settings)
        print(f"database {describe(settings.database)} is up to date")
        return 0
    if args.command == "migrate-to":
        return _migrate_to(settings, args.url)
    if args.command in ("scheduler", "worker"):
        return _dask(args, settings)
    if args.command in ("doctor", "backup", "restore", "service"):
        result: int = getattr(commands, args.command)(settings, args)
        return result
    if args.command in ("users", "tokens", "audit"):
        from ocrlive.manage import run

        return run(args, settings, lambda secret: login_url(settings, secret))
    if args.command == "models":
        ensure_models(settings)
        print(f"models ready in {settings.resolved_models_dir}")
        return 0
    from ocrlive.ingest import ingest

    return ingest(args, settings)


def _dask(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from ocrlive.ocr import dask_cluster
    from ocrlive.ops.prepare import ensure_models

    if args.command == "scheduler":
        asyncio.run(dask_cluster.run_scheduler(args.host, args.port))
        return 0
    ensure_models(settings)
    cores = os.cpu_count() or 1
    threads = args.nthreads or max(1, cores // max(1, args.nworkers))
    device = dask_cluster.gpu_device(args.gpu)
    config = replace(settings.engine_config(), threads=threads, device=device)
    engine, name = "ocrlive.ocr.engine:Engine", args.name
    run = dask_cluster.run_workers
    asyncio.run(run(args.scheduler, config, processes=args.nworkers, factory=engine, name=name))
    return 0


def _migrate_to(settings: Settings, url: str) -> int:
    from ocrlive.store.copy import TargetNotEmpty, copy_sqlite_to
    from ocrlive.store.db import describe

    if not settings.db_path.is_file():
        print(f"ocrlive: no SQLite database at {settings.db_path}", file=sys.stderr)
        return 2
    try:
        counts = copy_sqlite_to(settings.db_path, url)
    except TargetNotEmpty as exc:
        print(f"ocrlive: {exc}; nothing was copied", file=sys.stderr)
        return 2
    copied = ", ".join(f"{n} {table}" for table, n in counts.items())
    print(f"copied {copied} to {describe(url)}")
    print(f"now serve with OCRLIVE_DATABASE_URL set and the same data folder ({settings.data_dir})")
    return 0


def login_url(settings: Settings, secret: str) -> str:
    """A single-use sign-in link (`ocrlive users link`): to the server running on this
    data folder (a desktop start may have taken another port), else to the settings'."""
    from ocrlive.ops.instance import Instance
    from ocrlive.ops.server import base_url
    from ocrlive.ops.server import login_url as link_url

    running = Instance(settings.data_dir).running_url()
    return link_url(running or base_url(settings), secret)
