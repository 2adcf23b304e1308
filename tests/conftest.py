"""Shared fixtures: settings in a temp folder, the real app on a real port with the
real process pool (running the fake engine unless a test asks for PaddleOCR)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ocrlive.ocr.models import DET_MODEL_NAME, REC_MODEL_NAME, provision_models
from ocrlive.ocr.types import EngineConfig
from ocrlive.settings import Settings, load_settings
from ocrlive.store import open_store
from ocrlive.store.base import Store
from ocrlive.store.db import migrate
from tests.helpers.openapi_check import ResponseValidator
from tests.helpers.people import TOKEN_KEY, token_for
from tests.helpers.postgres import PostgresCluster
from tests.helpers.server import ServerProcess

FAKE_ENGINE = "ocrlive.ocr.fake:FakeEngine"


@pytest.fixture(scope="session")
def engine_config(tmp_path_factory: pytest.TempPathFactory) -> EngineConfig:
    """The real PP-OCRv6 models, laid out once per run (in OCRLIVE_MODELS_DIR if set)."""
    configured = os.environ.get("OCRLIVE_MODELS_DIR")
    folders = provision_models(
        Path(configured) if configured else tmp_path_factory.mktemp("models")
    )
    return EngineConfig(
        engine="onnxruntime",
        det_model_dir=str(folders["det"]),
        rec_model_dir=str(folders["rec"]),
        det_model_name=DET_MODEL_NAME,
        rec_model_name=REC_MODEL_NAME,
        threads=min(2, os.cpu_count() or 1),
    )


@pytest.fixture
def backend_url() -> str:
    """The database of the settings below: "" is SQLite in the data folder. A module that
    runs its tests on both backends overrides it with `each_backend_url`."""
    return ""


@pytest.fixture(params=["sqlite", "postgres"])
def each_backend_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("database_url")
        return url
    return ""


@pytest.fixture
def make_settings(tmp_path: Path, backend_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": tmp_path / "data", "workers": 1,
                                  "database_url": backend_url}  # fmt: skip
        values.update(overrides)
        return load_settings(environ={}, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the run (initdb + pg_ctl, a temp folder)."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def database_url(postgres: PostgresCluster) -> Iterator[str]:
    """A new, migrated database on the cluster for one test, dropped after it."""
    url = postgres.create_database()
    migrate(url)
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, settings: Settings) -> Path | str:
    """Each backend, migrated: a SQLite file, or a new database on the throwaway
    PostgreSQL cluster. The storage, people and records tests run against both."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("database_url")
        return url
    migrate(settings.db_path)
    return settings.db_path


@pytest.fixture
async def store(database: Path | str) -> AsyncIterator[Store]:
    """The backend's store (open the log before use)."""
    opened = open_store(database)
    yield opened
    await opened.close()


@pytest.fixture
def openapi_validator() -> Iterator[ResponseValidator]:
    """Every response of the app started by `start_app` must match /api/openapi.json."""
    validator = ResponseValidator()
    yield validator
    assert validator.errors == [], "\n".join(validator.errors)


@pytest.fixture
def start_app(openapi_validator: ResponseValidator, aiohttp_client: Any) -> Callable[..., Any]:
    """Start ocrlive (fake engine by default) on a real port; returns a TestClient that
    sends an administrator's personal API token (tests.helpers.people.admin_token). Its
    responses are validated against the API description."""

    async def start(settings: Settings, engine_factory: str = FAKE_ENGINE) -> TestClient[Any, Any]:
        from ocrlive.app import create_app

        token = await token_for(settings, "admin", "admin")  # migrates the database
        app = create_app(settings, engine_factory=engine_factory)
        app.middlewares.insert(0, openapi_validator.middleware)
        app[TOKEN_KEY] = token
        headers = {"Authorization": f"Bearer {token}"}
        client: TestClient[Any, Any] = await aiohttp_client(app, headers=headers)
        return client

    return start


@pytest.fixture
async def client(start_app: Callable[..., Any], settings: Settings) -> TestClient[Any, Any]:
    result: TestClient[Any, Any] = await start_app(settings)
    return result


# The admin's API token on servers started by `real_server` (imported by ServerProcess).
TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def real_server(
    tmp_path_factory: pytest.TempPathFactory, engine_config: EngineConfig
) -> Iterator[Callable[..., ServerProcess]]:
    """Start `ocrlive serve` (the real engine, one worker) as a child process with extra
    OCRLIVE_* settings; every server started is stopped at the end of the module."""
    started: list[ServerProcess] = []
    models = str(Path(engine_config.det_model_dir).parent)

    def start(**env: str) -> ServerProcess:
        data = tmp_path_factory.mktemp("server") / "data"
        env = {"OCRLIVE_MODELS_DIR": models, "OCRLIVE_WORKERS": "1", **env}
        server = ServerProcess(data, TOKEN, **env)
        started.append(server)
        server.start()
        server.wait_workers_ready()
        return server

    yield start
    for server in started:
        server.stop()
