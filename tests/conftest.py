"""Shared fixtures: settings factories and the real servers (testcontainers or the local stack)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import Phase, Verbosity
from hypothesis import settings as hypothesis_settings
from pydantic import SecretStr

from streams.config import ServiceName, Settings, load_settings
from streams.requests import client
from streams.servers.db import create_pool, migrate
from tests.support.databases import create_database, drop_database
from tests.support.kafka import delete_namespace
from tests.support.workers import Worker, settings_env, start_worker

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Property tests: in CI one fixed set of examples (derandomized: the same on every run, no
# example database), so a failure there is a failure of the code, reproducible by running the
# test again; elsewhere random examples, remembered in .hypothesis/. Both print the blob that
# reproduces a failing example (@reproduce_failure).
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True, verbosity=Verbosity.normal
)
hypothesis_settings.register_profile("dev", print_blob=True, phases=tuple(Phase))
hypothesis_settings.load_profile("ci" if IN_CI else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def unique_namespace() -> str:
    """A fresh topic and consumer-group prefix for one test."""
    return f"t{uuid.uuid4().hex[:12]}."


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings of the servers the tests talk to (from the environment, as the services)."""
    return load_settings()


@pytest.fixture
def make_settings(base_settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Factory: settings of the test's servers, in a fresh namespace and state dir by default."""

    def make(**overrides: Any) -> Settings:
        fields = {"namespace": unique_namespace(), "state_dir": tmp_path / "state", **overrides}
        return base_settings.model_copy(update=fields)

    return make


def _stack(settings: Settings, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), command],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
    )


def _servers_answer(settings: Settings) -> bool:
    return _stack(settings, "status").returncode == 0


def _stack_up(settings: Settings) -> str:
    done = _stack(settings, "up")
    return "" if done.returncode == 0 else done.stderr[-2000:]


@pytest.fixture(scope="session")
def servers(base_settings: Settings) -> Iterator[Settings]:
    """Real Kafka, PostgreSQL and Redis: containers where Docker runs, else the local stack.

    In CI a missing server fails the run; elsewhere the tests that need one are skipped.
    """
    from tests.support.containers import docker_available, started_containers

    if docker_available():
        with started_containers(base_settings) as settings:
            yield settings
        return
    problem = "" if _servers_answer(base_settings) else _stack_up(base_settings)
    if problem:
        message = f"the local stack could not be started: {problem}"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    yield base_settings


@pytest.fixture
async def isolated_settings(
    servers: Settings, tmp_path: Path
) -> AsyncIterator[Callable[[], Awaitable[Settings]]]:
    """Factory: settings on the real servers with their own namespace (topics, consumer
    groups, Redis keys), migrated database, Qdrant folder and state dir.

    Every namespace's topics (catalog and Faust-internal) and database are deleted after the
    test.
    """
    base_dsn = servers.database_url.get_secret_value()
    made: list[tuple[Settings, str]] = []

    async def make() -> Settings:
        name, dsn = await create_database(base_dsn)
        await migrate(dsn)
        folder = tmp_path / f"isolated-{len(made)}" if made else tmp_path
        settings = servers.model_copy(
            update={
                "namespace": unique_namespace(),
                "state_dir": folder / "state",
                "database_url": SecretStr(dsn),
                "qdrant_path": folder / "qdrant",
            }
        )
        made.append((settings, name))
        return settings

    yield make
    for settings, name in made:
        await delete_namespace(settings)
        await drop_database(base_dsn, name)


@pytest.fixture
async def test_settings(isolated_settings: Callable[[], Awaitable[Settings]]) -> Settings:
    """Settings for one integration test: the real servers, and its own namespace (topics,
    consumer groups, Redis keys), migrated database, Qdrant folder and state dir (see
    isolated_settings)."""
    return await isolated_settings()


@pytest.fixture
async def pool(test_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool on the test's own migrated database."""
    opened = await create_pool(test_settings, max_size=4)
    yield opened
    await opened.close()


@pytest.fixture
def start_workers(tmp_path: Path) -> Iterator[Callable[..., list[Worker]]]:
    """Factory: start N workers of a service, each waited for until it has partitions."""
    started: list[Worker] = []

    def start(
        service: ServiceName, settings: Settings | Sequence[Settings], count: int = 1
    ) -> list[Worker]:
        """`count` workers with `settings`, or one with each of several settings (all started
        before any is waited for)."""
        each = [settings] * count if isinstance(settings, Settings) else list(settings)
        new = [start_worker(service, own, tmp_path / "workers") for own in each]
        started.extend(new)
        for worker in new:
            worker.wait_ready()
        return new

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session", autouse=True)
async def _client_producer() -> AsyncIterator[None]:
    """The client's producer of the tests' event loop, stopped when the session ends (workers
    and trendctl stop their own)."""
    yield
    await client.close()
