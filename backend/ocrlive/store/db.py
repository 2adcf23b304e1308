"""Schema migrations (Alembic, migrations/ at the top of the repository), run before
serving: `ocrlive migrate`, or at the start of `ocrlive serve`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def migrations_dir() -> Path:
    """The checkout's `migrations/` when running from a checkout (the source of truth,
    also under an editable install); else the copy the wheel carries (setup.py)."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "migrations" / "env.py").is_file():
        return checkout / "migrations"
    return package / "migrations"


MIGRATIONS_DIR = migrations_dir()


def alembic_config(db_path: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db_path}")
    return cfg


def migrate(db_path: Path) -> None:
    """Bring the database to the newest revision (synchronous; run before serving)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(db_path), "head")
