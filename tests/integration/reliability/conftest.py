"""Fixtures of the reliability tests: a source server, collectors wired to it, and private
servers (PostgreSQL, Redis, Kafka) a test may stop and start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from streams.config import Settings
from streams.servers.db import migrate
from tests.support.http import FixtureServer
from tests.support.stack import free_port_pair, stack
from tests.support.workers import Worker, free_port, without_schedules

TOKEN = "servers-away-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    """A fresh HTTP fixture server on 127.0.0.1, stopped after the test."""
    with FixtureServer() as server:
        yield server


@pytest.fixture
def retry_settings(test_settings: Settings, fixture_server: FixtureServer) -> Settings:
    """The test's settings with Hacker News on the fixture server, no HTTP-level retries,
    and short retry delays without jitter (so each due time is known); schedules off (their
    catch-up would dead-letter the unreachable public sources beside the test's letters)."""
    return without_schedules(test_settings).model_copy(
        update={
            "hackernews_base_url": fixture_server.url,
            "hackernews_lists": ("top",),
            "http_max_retries": 0,
            "http_timeout_s": 5.0,
            "retry_backoff_s": 1.0,
            "retry_jitter": False,
        }
    )


@pytest.fixture
def collector_with(
    start_workers: Callable[..., list[Worker]],
) -> Callable[..., Worker]:
    """Factory: one collector worker with these settings (and overrides)."""

    def start(settings: Settings, **overrides: Any) -> Worker:
        return start_workers("collector", settings.model_copy(update=overrides))[0]

    return start


ROOT = Path(__file__).resolve().parents[3]


def _private(test_settings: Settings, tmp_path: Path, **update: Any) -> Settings:
    """The test's settings on its own servers, schedules off (its letters are its own)."""
    return without_schedules(test_settings).model_copy(
        update={
            "state_dir": tmp_path / "private",
            "api_token": SecretStr(TOKEN),
            "file_plugin_dir": ROOT,
            **update,
        }
    )


@pytest.fixture
def private_redis(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on a Redis of its own, purged afterwards."""
    settings = _private(test_settings, tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    stack(settings, "start", "redis")
    try:
        yield settings
    finally:
        stack(settings, "purge")


@pytest.fixture
async def private_postgres(test_settings: Settings, tmp_path: Path) -> AsyncIterator[Settings]:
    """The test's settings on a migrated PostgreSQL of its own, purged afterwards."""
    dsn = f"postgresql://away:pw@127.0.0.1:{free_port()}/awaydb"
    settings = _private(test_settings, tmp_path, database_url=SecretStr(dsn))
    stack(settings, "start", "postgres")
    try:
        await migrate(dsn)
        yield settings
    finally:
        stack(settings, "purge")


@pytest.fixture
def private_kafka(test_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings on an Apache Kafka of its own, purged afterwards."""
    bootstrap = f"127.0.0.1:{free_port_pair()}"
    settings = _private(test_settings, tmp_path, kafka_bootstrap_servers=bootstrap)
    stack(settings, "start", "kafka")
    try:
        yield settings
    finally:
        stack(settings, "purge")
