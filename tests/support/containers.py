"""Real servers in containers (testcontainers), used where a Docker engine answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from streams.config import Settings
from streams.servers.db import migrate


def docker_available() -> bool:
    """True when a Docker engine answers a ping."""
    try:
        import docker

        return bool(docker.from_env(timeout=3).ping())
    except Exception:  # noqa: BLE001 - no engine, no socket, no permission: all mean "no"
        return False


@contextmanager
def started_containers(settings: Settings) -> Iterator[Settings]:
    """Kafka (KRaft), PostgreSQL and Redis containers; yields settings pointing at them."""
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    with (
        KafkaContainer().with_kraft() as kafka,
        PostgresContainer("postgres:16", username="trend", password="trend", dbname="trend") as pg,
        RedisContainer("redis:7") as redis,
    ):
        url = pg.get_connection_url(driver=None)
        redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
        asyncio.run(migrate(url))
        yield settings.model_copy(
            update={
                "kafka_bootstrap_servers": kafka.get_bootstrap_server(),
                "database_url": SecretStr(url),
                "redis_url": redis_url,
            }
        )
