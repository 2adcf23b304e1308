"""Alembic environment.

Migrations run synchronously (the stdlib sqlite3 driver) before the server's event
loop starts, so that `ocrlive migrate`, `ocrlive serve` and tests running inside an
event loop all take the same path; the server itself uses aiosqlite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ocrlive.store.models import metadata

config = context.config


def _url() -> str:
    db = context.get_x_argument(as_dictionary=True).get("db")
    url = f"sqlite:///{db}" if db else config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass -x db=PATH or use `ocrlive migrate`")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
