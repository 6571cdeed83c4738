"""The health check against real servers: degraded while (a private) Redis is stopped."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from pydantic import SecretStr

from services.maintenance.health import HealthHistory, HealthStatus, PoolGetter, check_health
from streams.config import Settings
from streams.messages.records import AlertSeverity
from streams.servers.db import create_pool
from tests.integration.maintenance.conftest import Alerts
from tests.support.workers import free_port, poll


def getter(pool: asyncpg.Pool) -> PoolGetter:
    """The test's pool, as a worker's resources hand it out."""

    async def get() -> asyncpg.Pool:
        return pool

    return get


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test may stop."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert poll(self._answers, 10), "the private redis-server did not start"

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_health_is_degraded_while_redis_is_stopped_and_ok_again_after(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts, private_redis: PrivateRedis
) -> None:
    settings = test_settings.model_copy(
        update={
            "redis_url": private_redis.url,
            "health_workers": (),
            "health_disk_max_percent": 100.0,
            "health_memory_max_percent": 100.0,
        }
    )
    history = HealthHistory(getter(pool))
    first = await check_health(settings, history, alerts)
    assert first.status is HealthStatus.OK, first.as_dict()

    private_redis.stop()
    down = await check_health(settings, history, alerts)
    assert down.status is HealthStatus.DEGRADED
    assert down.failing() == ["redis"]

    private_redis.start()
    again = await check_health(settings, history, alerts)
    assert again.status is HealthStatus.OK, again.as_dict()

    assert [(a.state, a.previous_state, a.severity) for a in alerts] == [
        ("degraded", "ok", AlertSeverity.WARNING),
        ("ok", "degraded", AlertSeverity.INFO),
    ]
    statuses = await pool.fetch("SELECT status FROM health_checks ORDER BY id")
    assert [row["status"] for row in statuses] == ["ok", "degraded", "ok"]


async def test_every_server_and_a_missing_worker_are_checked(
    test_settings: Settings, pool: asyncpg.Pool, alerts: Alerts
) -> None:
    settings = test_settings.model_copy(
        update={"health_workers": ("collector",), "collector_web_port": free_port()}
    )
    report = await check_health(settings, HealthHistory(getter(pool)), alerts)
    checks = {check.name: check for check in report.checks}
    assert set(checks) == {
        "postgres",
        "redis",
        "qdrant",
        "kafka",
        "worker:collector",
        "disk",
        "memory",
    }
    assert all(checks[name].ok for name in ("postgres", "redis", "qdrant", "kafka"))
    assert checks["kafka"].values["controller_id"] >= 0
    assert not checks["worker:collector"].ok
    assert report.status is HealthStatus.DEGRADED
    assert [a.source for a in alerts] == ["health"]


async def test_an_unreachable_database_is_down_not_a_crash(
    test_settings: Settings, alerts: Alerts
) -> None:
    gone = f"postgresql://trend:trend@127.0.0.1:{free_port()}/trend"
    settings = test_settings.model_copy(
        update={"database_url": SecretStr(gone), "health_workers": (), "health_timeout_s": 2.0}
    )

    async def no_pool() -> asyncpg.Pool:
        return await create_pool(settings)

    report = await check_health(settings, HealthHistory(no_pool), alerts)
    assert report.status is HealthStatus.DOWN
    assert "postgres" in report.failing()
    assert [(a.state, a.severity) for a in alerts] == [("down", AlertSeverity.CRITICAL)]
