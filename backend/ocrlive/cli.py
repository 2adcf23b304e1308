"""The `ocrlive` command: serve, migrate, models, ingest, users, tokens, audit,
scheduler, worker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from ocrlive import __version__
from ocrlive.settings import Settings, load_settings

log = logging.getLogger("ocrlive")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data folder (env OCRLIVE_DATA_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrlive", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ocrlive {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server (migrates the database first)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--workers", type=int, help="OCR worker processes")
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    _common(serve)
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(
            host=getattr(args, "host", None), port=getattr(args, "port", None),
            data_dir=getattr(args, "data_dir", None), workers=getattr(args, "workers", None),
            tls_cert=getattr(args, "tls_cert", None), tls_key=getattr(args, "tls_key", None),
        )  # fmt: skip
    except ValueError as exc:
        print(f"ocrlive: bad setting: {exc}", file=sys.stderr)
        return 2
    from ocrlive.store.checks import DatabaseProblem

    try:
        return _run(args, settings)
    except DatabaseProblem as exc:
        print(f"ocrlive: cannot start: {exc}", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return serve(settings)
    if args.command == "migrate":
        from ocrlive.store.db import describe

        _migrate(settings)
        print(f"database {describe(settings.database)} is up to date")
        return 0
    if args.command == "migrate-to":
        return _migrate_to(settings, args.url)
    if args.command in ("scheduler", "worker"):
        return _dask(args, settings)
    if args.command in ("doctor", "backup", "restore", "service"):
        from ocrlive.ops import commands

        result: int = getattr(commands, args.command)(settings, args)
        return result
    if args.command in ("users", "tokens", "audit"):
        from ocrlive.manage import run

        return run(args, settings, lambda secret: login_url(settings, secret))
    if args.command == "models":
        _ensure_models(settings)
        print(f"models ready in {settings.resolved_models_dir}")
        return 0
    from ocrlive.ingest import ingest

    return ingest(args, settings)


def _dask(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace

    from ocrlive.ocr import dask_cluster

    if args.command == "scheduler":
        asyncio.run(dask_cluster.run_scheduler(args.host, args.port))
        return 0
    _ensure_models(settings)
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
    """A single-use sign-in link (first run, `ocrlive users link`)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{host}:{settings.port}/login?link={secret}"


def _migrate(settings: Settings) -> None:
    """Check the database file (DatabaseProblem with what to do), then migrate it."""
    from ocrlive.store.checks import check_database
    from ocrlive.store.db import migrate

    if not settings.database_url:  # a PostgreSQL server checks its own files
        check_database(settings.db_path, (settings.files_dir, settings.pages_dir))
    migrate(settings.database)


def prepare(settings: Settings) -> None:
    """Everything before the event loop: folders, schema, models."""

    if os.environ.get("OCRLIVE_TOKEN"):
        log.warning(
            "OCRLIVE_TOKEN is no longer used: people sign in as themselves and "
            "programs use personal API tokens (see the README's migration note)"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _migrate(settings)
    _ensure_models(settings)


def _ensure_models(settings: Settings) -> None:
    """The ONNX models ship inside the rapidocr wheel; lay them out on first start."""
    config = settings.engine_config()
    wanted = [Path(config.det_model_dir), Path(config.rec_model_dir)]
    if settings.engine != "onnxruntime" or all((d / "inference.yml").is_file() for d in wanted):
        return
    from ocrlive.ocr.models import provision_models

    provision_models(settings.resolved_models_dir)


def serve(settings: Settings) -> int:
    try:
        tls = _tls(settings)
    except (OSError, ssl.SSLError, ValueError) as exc:
        print(f"ocrlive: cannot use the TLS certificate: {exc}", file=sys.stderr)
        return 2
    prepare(settings)
    asyncio.run(_serve(settings, tls))
    return 0


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def _serve(settings: Settings, tls: ssl.SSLContext | None) -> None:
    from ocrlive.app import create_app
    from ocrlive.http.server import Runner
    from ocrlive.identity.people import first_run
    from ocrlive.keys import IDENTITY

    app = create_app(settings)
    runner = Runner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=10, ssl_context=tls)
    await site.start()
    scheme = "https" if tls else "http"
    print(
        f"ocrlive {__version__} serving on {scheme}://{settings.host}:{settings.port}/", flush=True
    )
    link = await first_run(app[IDENTITY])
    if link is not None:
        print("no one can sign in yet: an 'admin' was created. Open this single-use link "
              "within 15 minutes and choose a password:", flush=True)  # fmt: skip
        print(f"  {login_url(settings, link)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("ocrlive: shutting down", flush=True)
    await runner.cleanup()
