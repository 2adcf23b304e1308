"""Plain access to the identity and audit tables, on either backend: their writes on
the backend's one writer thread (so an audit row waits behind no other transaction
and group commits with its neighbours; on PostgreSQL under the log's advisory lock,
so two nodes never fork the audit chain), their reads on the async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ocrlive.store.db import is_url

if TYPE_CHECKING:  # store/sqlite/__init__ imports this module
    from ocrlive.store.sqlite.writer import Writer


class HasEngine(Protocol):
    @property
    def engine(self) -> AsyncEngine: ...

    async def close(self) -> None: ...


class Database:
    def __init__(self, writer: Writer, reader: HasEngine, *, owned: bool = False) -> None:
        self.writer = writer
        self._reader = reader
        self._owned = owned  # True: this object opened them (the CLI), so it closes them

    @classmethod
    def open(cls, database: Path | str) -> Database:
        """For the command line: its own writer and reader (the server's Store has one),
        on a SQLite file (a path) or a PostgreSQL URL."""
        if is_url(database):
            from ocrlive.store.postgres.connection import PgReader, PgWriter

            return cls(PgWriter(str(database)), PgReader(str(database)), owned=True)
        from ocrlive.store.sqlite.reader import Reader
        from ocrlive.store.sqlite.writer import SqliteWriter

        return cls(SqliteWriter(Path(database)), Reader(Path(database)), owned=True)

    async def close(self) -> None:
        if self._owned:
            await self.writer.close()
            await self._reader.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.engine.connect() as conn:
            yield conn
