"""Every setting of ocrlive, read once from OCRLIVE_* environment variables.

The README's configuration table is generated from `SETTINGS_DOC`; a test fails
when a field is missing from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs

from ocrlive.ocr.types import EngineConfig

LOG_FORMATS = ("auto", "text", "json", "journal")

SETTINGS_DOC: dict[str, str] = {
    "host": "Address to listen on (`--host`).",
    "port": "Port to listen on (`--port`).",
    "data_dir": "Folder for the database, uploads and page images (`--data-dir`).",
    "models_dir": "Folder holding the model folders (`inference.onnx` + `inference.yml`).",
    "engine": "`onnxruntime` (default) or `paddle` (needs paddlepaddle and Paddle-format models).",
    "det_model": "Name of the detection model folder under `models_dir`.",
    "rec_model": "Name of the recognition model folder under `models_dir`.",
    "det_limit_side_len": (
        "Detection input size: with `min`, the least short side; with `max`, the most long side."
    ),
    "det_limit_type": (
        "`min` (PaddleOCR's default: read at full resolution) or `max` (downscale large pages)."
    ),
    "det_box_thresh": (
        "Least mean text probability inside a detected box for it to be read "
        "(PaddleOCR's default: 0.6)."
    ),
    "rec_space_thresh": (
        "Probability of the space class between two characters from which a word gap is "
        "read although the space did not win; `0` decodes as PaddleOCR does."
    ),
    "workers": "OCR worker processes (default: CPU cores, at most 2).",
    "threads_per_worker": "Intra-op threads per worker (default: cores / workers).",
    "task_timeout": "Seconds a task may run before its worker is killed (`timeout`).",
    "max_tasks_per_worker": "A worker is replaced after this many tasks.",
    "max_worker_rss_mb": "A worker is replaced when its memory exceeds this (MiB).",
    "worker_liveness_s": (
        "Seconds a worker may send nothing (it sends a heartbeat every second) before it "
        "is found hung and replaced; a document it was reading is retried once."
    ),
    "max_upload_mb": "Largest accepted upload (MiB).",
    "body_timeout": "Seconds an upload may stall (no bytes arriving) before it is refused (408).",
    "max_pages": "Most pages read from one document.",
    "max_pixels": "Largest page in pixels (decompression-bomb guard).",
    "read_pixels": (
        "Pages larger than this (pixels) are scaled down to it before they are read: "
        "keeps a worker under `OCRLIVE_MAX_WORKER_RSS_MB` (see bench_worker_memory.py)."
    ),
    "pdf_dpi": "Resolution at which PDF pages are rendered.",
    "queue_limit": "Queued tasks beyond which uploads get 503 `queue_full`.",
    "progress_interval_ms": "Least time between two progress events of one task.",
    "retention_days": "Finished tasks, their files and events are purged after this many days.",
    "snapshot_finished": "Finished tasks included in the `tasks` snapshot.",
    "ws_outbox_limit": "Frames queued for one WebSocket before it is closed as too slow.",
    "ws_heartbeat": "Seconds between WebSocket pings.",
    "ws_rate": "Messages per second a WebSocket client may send (burst of twice as many).",
    "connect_rate": (
        "Unauthenticated WebSocket connection attempts per minute from one address "
        "(signed-in ones are not counted)."
    ),
    "session_idle_minutes": "A browser session ends after this many minutes without activity.",
    "session_max_hours": "A browser session ends this many hours after sign-in, active or not.",
    "trusted_proxies": (
        "Comma-separated addresses or networks of reverse proxies whose `X-Forwarded-For` "
        "(client address for limits and the audit log), `X-Forwarded-Proto` and user header "
        "are believed."
    ),
    "proxy_user_header": (
        "Header naming the signed-in person, set by a trusted proxy (e.g. `Remote-User`); "
        "empty: off."
    ),
    "proxy_default_role": (
        "Role given to a person a trusted proxy names who is not known yet; empty: refused."
    ),
    "audit_retention_days": "Audit rows are kept this many days (at least 365), apart from tasks.",
    "oidc_issuer": "OpenID Connect issuer URL; empty: single sign-on off.",
    "oidc_client_id": "OpenID Connect client id.",
    "oidc_client_secret": "OpenID Connect client secret.",
    "oidc_name": "The provider's name on the sign-in button.",
    "oidc_role_claim": "ID token claim holding the person's groups or roles.",
    "oidc_role_map": (
        "`claim value=role` pairs, comma-separated (e.g. `ocr-admins=admin,ward=clinician`); "
        "the first match wins; no match: sign-in refused."
    ),
    "tls_cert": "PEM certificate: serve HTTPS directly (`--tls-cert`).",
    "tls_key": "PEM private key of `tls_cert` (`--tls-key`).",
    "review_threshold": "Lines read with a confidence below this (0..1) are marked for review.",
    "executor": "`local` (a pool of worker processes here) or `dask` (a Dask cluster).",
    "dask_scheduler": "The Dask scheduler's address (`tcp://host:8786`) with `executor=dask`.",
    "dask_documents": "Documents read at once on the Dask executor (their pages spread).",
    "database_url": (
        "PostgreSQL (`postgresql://user:password@host:5432/db`; the `postgresql+psycopg` "
        "and `postgresql+asyncpg` forms are taken too, ocrlive always uses psycopg 3); "
        "empty: SQLite in the data folder."
    ),
    "log_format": (
        "Log lines: `auto` (the journal's priorities under systemd, else text), `text`, "
        "`json` (one JSON object a line, for log collectors) or `journal` (`--log-format`)."
    ),
    "metrics_token": (
        "Bearer token for `GET /metrics`; when empty, `/metrics` answers the loopback only."
    ),
    "node_name": "This server node's name in `/api/status` (default: host name and port).",
    "node_lease_s": (
        "Seconds a node may go without a heartbeat before it is taken for dead and its "
        "unfinished tasks are taken over by the leader (several nodes on one PostgreSQL)."
    ),
}


def _default_data_dir() -> Path:
    """The user's data folder (Linux: $XDG_DATA_HOME/ocrlive or ~/.local/share/ocrlive;
    macOS: ~/Library/Application Support/ocrlive; Windows: %LOCALAPPDATA%\\ocrlive)."""
    return Path(platformdirs.user_data_dir("ocrlive", appauthor=False))


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=_default_data_dir)
    models_dir: Path | None = None
    engine: str = "onnxruntime"
    det_model: str = "PP-OCRv6_det_small"
    rec_model: str = "PP-OCRv6_rec_small"
    det_limit_side_len: int = 64
    det_limit_type: str = "min"
    det_box_thresh: float = EngineConfig.det_box_thresh
    rec_space_thresh: float = EngineConfig.rec_space_thresh
    workers: int = field(default_factory=_default_workers)
    threads_per_worker: int = 0
    task_timeout: float = 600.0
    max_tasks_per_worker: int = 200
    max_worker_rss_mb: int = 2500
    worker_liveness_s: float = 15.0
    max_upload_mb: int = 50
    body_timeout: float = 30.0
    max_pages: int = 50
    max_pixels: int = 60_000_000
    read_pixels: int = 8_000_000
    pdf_dpi: int = 200
    queue_limit: int = 1000
    progress_interval_ms: int = 100
    retention_days: float = 30.0
    snapshot_finished: int = 200
    ws_outbox_limit: int = 256
    ws_heartbeat: float = 20.0
    ws_rate: float = 20.0
    connect_rate: int = 60
    session_idle_minutes: float = 15.0
    session_max_hours: float = 12.0
    trusted_proxies: str = ""
    proxy_user_header: str = ""
    proxy_default_role: str = ""
    audit_retention_days: float = 6 * 365.0
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_name: str = "single sign-on"
    oidc_role_claim: str = "groups"
    oidc_role_map: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # PP-OCRv6 scores cleanly printed lines near 1 (the drawn test pages read at 0.99 on
    # average); 0.8, the dashboard's "low confidence" mark since the first version, leaves
    # those alone and sends a person to the lines the engine itself doubts.
    review_threshold: float = 0.8
    executor: str = "local"
    dask_scheduler: str = ""
    dask_documents: int = 4
    database_url: str = ""
    metrics_token: str = ""
    log_format: str = "auto"
    node_name: str = ""
    # 4 heartbeats per lease: a node killed with SIGKILL has its tasks taken over within
    # 10-12.5 s, and a node stalled for 10 s (a long GC pause, a busy disk) is not yet
    # taken for dead after one late beat.
    node_lease_s: float = 10.0

    def __post_init__(self) -> None:
        if self.executor not in ("local", "dask"):
            raise ValueError(f"OCRLIVE_EXECUTOR must be local or dask, not {self.executor!r}")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"OCRLIVE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.executor == "dask" and not self.dask_scheduler:
            raise ValueError("OCRLIVE_EXECUTOR=dask needs OCRLIVE_DASK_SCHEDULER (tcp://host:8786)")
        if self.database_url and not self.database_url.startswith(("postgresql:", "postgresql+")):
            raise ValueError(
                "OCRLIVE_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@"
                "host:5432/db, or postgresql+psycopg:// or postgresql+asyncpg://), or empty"
            )

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ocrlive.db"

    @property
    def database(self) -> Path | str:
        """What store.open_store and store.db.migrate take: the URL, or the SQLite file."""
        return self.database_url or self.db_path

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def pages_dir(self) -> Path:
        return self.data_dir / "pages"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def threads(self) -> int:
        cores = os.cpu_count() or 1
        return self.threads_per_worker or max(1, cores // self.workers)

    def engine_config(self) -> EngineConfig:
        models = self.resolved_models_dir
        return EngineConfig(
            engine=self.engine,
            det_model_dir=str(models / self.det_model),
            rec_model_dir=str(models / self.rec_model),
            det_model_name=self.det_model,
            rec_model_name=self.rec_model,
            threads=self.threads,
            det_limit_side_len=self.det_limit_side_len,
            det_limit_type=self.det_limit_type,
            det_box_thresh=self.det_box_thresh,
            rec_space_thresh=self.rec_space_thresh,
            pdf_dpi=self.pdf_dpi,
            max_pages=self.max_pages,
            max_pixels=self.max_pixels,
            read_pixels=self.read_pixels,
        )


def _convert(kind: str, raw: str) -> object:
    if "Path" in kind:
        return Path(raw).expanduser()
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from OCRLIVE_<NAME> variables, then explicit overrides (CLI flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = env.get(f"OCRLIVE_{f.name.upper()}")
        if raw not in (None, ""):
            try:
                values[f.name] = _convert(str(f.type), raw)
            except ValueError as exc:
                raise ValueError(f"OCRLIVE_{f.name.upper()}: {exc}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]
