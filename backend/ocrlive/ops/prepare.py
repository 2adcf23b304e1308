"""Before the event loop: the TLS context, the data folder, the database (checked, then
migrated) and the models. Used by `ocrlive serve`, the desktop start and the CLI."""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
from pathlib import Path

from ocrlive.settings import Settings

log = logging.getLogger("ocrlive")


def check_and_migrate(settings: Settings) -> None:
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
    with contextlib.suppress(OSError):  # a folder the administrator owns keeps its mode
        settings.data_dir.chmod(0o700)  # patient documents
    check_and_migrate(settings)
    ensure_models(settings)


def ensure_models(settings: Settings) -> None:
    """The ONNX models ship inside the wheel (or rapidocr); lay them out on first start."""
    config = settings.engine_config()
    wanted = [Path(config.det_model_dir), Path(config.rec_model_dir)]
    if settings.engine != "onnxruntime" or all((d / "inference.yml").is_file() for d in wanted):
        return
    from ocrlive.ocr.models import provision_models

    provision_models(settings.resolved_models_dir)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context
