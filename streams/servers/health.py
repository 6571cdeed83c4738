"""Liveness and readiness of a worker: the broker, PostgreSQL and Redis, partition assignment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import asyncpg
import faust
from aiokafka import AIOKafkaClient
from redis.asyncio import Redis

from streams import __version__
from streams.config import Settings

__all__ = ["SERVERS", "BrokerProbe", "Server", "ServerProbe", "health_report", "is_ready"]

Server = Literal["postgres", "redis"]
SERVERS: tuple[Server, ...] = ("postgres", "redis")
"""The servers besides Kafka that every worker needs for its work (request states in Redis,
plugin runs, items and job results in PostgreSQL)."""


class BrokerProbe:
    """Answers "can this worker reach the broker?", asking at most once per `ttl` seconds."""

    def __init__(self, settings: Settings, ttl: float = 2.0, timeout: float = 3.0) -> None:
        self.settings = settings
        self.ttl = ttl
        self.timeout = timeout
        self._client: AIOKafkaClient | None = None
        self._checked_at = 0.0
        self._connected = False
        self._error = ""

    async def check(self) -> tuple[bool, str]:
        """(connected, error) from a metadata request, cached for `ttl` seconds."""
        if time.monotonic() - self._checked_at > self.ttl:
            self._connected, self._error = await self._ask()
            self._checked_at = time.monotonic()
        return self._connected, self._error

    async def _ask(self) -> tuple[bool, str]:
        try:
            client = await self._ensure_client()
            await asyncio.wait_for(client.fetch_all_metadata(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""

    async def _ensure_client(self) -> AIOKafkaClient:
        if self._client is None:
            client = AIOKafkaClient(bootstrap_servers=self.settings.bootstrap_list)
            await asyncio.wait_for(client.bootstrap(), self.timeout)
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the probe's connection."""
        if self._client is not None:
            await self._client.close()
            self._client = None


class ServerProbe:
    """Answers "can this worker reach the servers it needs?" (PostgreSQL, Redis), asking each at
    most once per `ttl` seconds, each within `timeout` seconds."""

    def __init__(
        self,
        settings: Settings,
        servers: tuple[Server, ...] = SERVERS,
        ttl: float = 2.0,
        timeout: float = 3.0,
    ) -> None:
        self.settings = settings
        self.servers = servers
        self.ttl = ttl
        self.timeout = timeout
        self._redis: Redis | None = None
        self._postgres: asyncpg.Connection | None = None
        self._checked_at = 0.0
        self._errors: dict[str, str | None] = {}
        self._lock = asyncio.Lock()

    async def check(self) -> dict[str, str | None]:
        """Each server's error (None: it answers), cached for `ttl` seconds."""
        async with self._lock:
            if time.monotonic() - self._checked_at > self.ttl:
                asks: dict[Server, Callable[[], Awaitable[None]]] = {
                    "postgres": self._ask_postgres,
                    "redis": self._ask_redis,
                }
                found = await asyncio.gather(*(self._ask(asks[name]) for name in self.servers))
                self._errors = dict(zip(self.servers, found, strict=True))
                self._checked_at = time.monotonic()
            return dict(self._errors)

    async def _ask(self, ask: Callable[[], Awaitable[None]]) -> str | None:
        try:
            await asyncio.wait_for(ask(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            return f"{type(exc).__name__}: {exc}".strip().removesuffix(":")
        return None

    async def _ask_redis(self) -> None:
        if self._redis is None:
            self._redis = Redis.from_url(
                self.settings.redis_url,
                socket_connect_timeout=self.timeout,
                socket_timeout=self.timeout,
            )
        await self._redis.ping()

    async def _ask_postgres(self) -> None:
        """SELECT 1 on the probe's own connection; a question that did not end with its answer
        (an error, or cancelled by the probe's timeout) leaves the connection mid-operation, so
        it is dropped, never asked again."""
        if self._postgres is None or self._postgres.is_closed():
            self._postgres = None
            self._postgres = await asyncpg.connect(
                self.settings.database_url.get_secret_value(), timeout=self.timeout
            )
        try:
            await self._postgres.fetchval("SELECT 1", timeout=self.timeout)
        except BaseException:
            self._postgres.terminate()
            self._postgres = None
            raise

    async def close(self) -> None:
        """Close the probe's connections."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
        if self._postgres is not None:
            self._postgres.terminate()
            self._postgres = None


def is_ready(
    connected: bool, assignment: list[str], rebalancing: bool, servers_answer: bool = True
) -> bool:
    """Ready for work: the broker and the servers the worker needs answer, and the worker holds
    partitions, not mid-rebalance."""
    return connected and servers_answer and bool(assignment) and not rebalancing


async def health_report(
    app: faust.App, service: str, probe: BrokerProbe, servers: ServerProbe | None = None
) -> dict[str, Any]:
    """The JSON of GET /health: ok when the broker and the servers the worker needs answer.

    `live` is always true (the worker answers); `ready` is `is_ready`; `servers` tells each
    server's state (`connected`, `error`).
    """
    connected, error = await probe.check()
    errors = await servers.check() if servers is not None else {}
    answer = all(problem is None for problem in errors.values())
    assignment = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
    return {
        "service": service,
        "status": "ok" if connected and answer else "degraded",
        "live": True,
        "ready": is_ready(connected, assignment, bool(app.rebalancing), answer),
        "version": __version__,
        "broker": {"connected": connected, "error": error or None},
        "servers": {
            name: {"connected": problem is None, "error": problem}
            for name, problem in errors.items()
        },
        "assignment": assignment,
        "app_id": app.conf.id,
    }
