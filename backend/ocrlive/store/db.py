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


def is_url(target: Path | str) -> bool:
    return isinstance(target, str) and "://" in target


def describe(target: Path | str) -> str:
    """For messages: the URL without its password, or the file."""
    if is_url(target):
        from sqlalchemy.engine import make_url

        return make_url(str(target)).render_as_string(hide_password=True)
    return str(target)


def sqlalchemy_url(url: str) -> str:
    """Any PostgreSQL URL (postgresql://, +psycopg, +asyncpg) with psycopg 3 as its
    driver: the one ocrlive installs, for sync (Alembic) and async engines alike."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def alembic_config(target: Path | str) -> Config:
    """For a SQLite file (a path) or a PostgreSQL URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    url = sqlalchemy_url(str(target)) if is_url(target) else f"sqlite:///{target}"
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser escapes
    return cfg


def migrate(target: Path | str) -> None:
    """Bring the database to the newest revision (synchronous; run before serving)."""
    if not is_url(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(target), "head")
