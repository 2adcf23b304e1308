"""Plain access to the SQLite file for the identity and audit tables: their writes on
the backend's one writer thread (so an audit row waits behind no other transaction
and group commits with its neighbours), their reads on the async engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.store.sqlite.reader import Reader
from ocrlive.store.sqlite.writer import SqliteWriter


class Database:
    def __init__(self, writer: SqliteWriter, reader: Reader, *, owned: bool = False) -> None:
        self.writer = writer
        self._reader = reader
        self._owned = owned  # True: this object opened them (the CLI), so it closes them

    @classmethod
    def open(cls, db_path: Path) -> Database:
        """For the command line: its own writer and reader (the server's Store has one)."""
        return cls(SqliteWriter(db_path), Reader(db_path), owned=True)

    async def close(self) -> None:
        if self._owned:
            await self.writer.close()
            await self._reader.close()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reader.engine.connect() as conn:
            yield conn
