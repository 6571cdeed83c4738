"""The health check: PostgreSQL, Redis, Qdrant, Kafka, the workers, disk and memory."""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import psutil
from aiokafka.admin import AIOKafkaAdminClient

from services.maintenance.alerts import AlertSink
from streams.config import ServiceName, Settings
from streams.messages.records import Alert, AlertSeverity, utcnow
from streams.requests.state import redis_client
from streams.servers.vectors import qdrant_client

__all__ = [
    "CheckResult",
    "HealthHistory",
    "HealthReport",
    "HealthStatus",
    "PoolGetter",
    "check_health",
    "overall",
    "run_health",
]

log = logging.getLogger(__name__)
CRITICAL = frozenset({"postgres", "kafka"})
"""Without these nothing works: their failure makes the system down, not degraded."""


class HealthStatus(enum.StrEnum):
    """The system's overall state."""

    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class CheckResult:
    """One probe: did it pass, what it saw, how long it took."""

    name: str
    ok: bool
    detail: str = ""
    latency_ms: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    """Every check, the overall status, and the status before this run."""

    status: HealthStatus
    checks: tuple[CheckResult, ...]
    checked_at: datetime
    previous: HealthStatus | None = None

    @property
    def changed(self) -> bool:
        """True when the status differs from the last recorded one (or, first, is not ok)."""
        if self.previous is None:
            return self.status is not HealthStatus.OK
        return self.previous != self.status

    def failing(self) -> list[str]:
        """The names of the checks that failed."""
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (a job's result, a dashboard's view)."""
        return {
            "status": self.status.value,
            "previous": self.previous.value if self.previous else None,
            "checked_at": self.checked_at.isoformat(),
            "failing": self.failing(),
            "checks": {check.name: asdict(check) for check in self.checks},
        }


def overall(checks: tuple[CheckResult, ...] | list[CheckResult]) -> HealthStatus:
    """down if PostgreSQL or Kafka fails, degraded if anything else does, else ok."""
    failed = {check.name for check in checks if not check.ok}
    if failed & CRITICAL:
        return HealthStatus.DOWN
    return HealthStatus.DEGRADED if failed else HealthStatus.OK


async def _probe(
    name: str, timeout: float, run: Callable[[], Awaitable[tuple[str, dict[str, Any]]]]
) -> CheckResult:
    """Run one probe within `timeout`; any exception is a failed check, never raised."""
    started = time.monotonic()
    try:
        detail, values = await asyncio.wait_for(run(), timeout)
    except Exception as exc:  # noqa: BLE001 - a failing probe is a result, not an error
        elapsed = (time.monotonic() - started) * 1000
        return CheckResult(name, False, f"{type(exc).__name__}: {exc}", round(elapsed, 1))
    return CheckResult(name, True, detail, round((time.monotonic() - started) * 1000, 1), values)


async def _postgres(settings: Settings) -> tuple[str, dict[str, Any]]:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return f"PostgreSQL {version}", {"version": version}


async def _redis(settings: Settings) -> tuple[str, dict[str, Any]]:
    client = redis_client(settings)
    try:
        await client.ping()
    finally:
        await client.aclose()
    return "PING answered", {}


async def _qdrant(settings: Settings) -> tuple[str, dict[str, Any]]:
    if not settings.qdrant_url:
        return _qdrant_local(settings)
    client = qdrant_client(settings)
    try:
        found = await client.get_collections()
    finally:
        await client.close()
    return f"server at {settings.qdrant_url}", {"collections": len(found.collections)}


def _qdrant_local(settings: Settings) -> tuple[str, dict[str, Any]]:
    """Local mode belongs to the processor's process: check its folder, don't open it."""
    folder = settings.qdrant_path
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"local mode folder {folder} is not writable")
    return f"local mode at {folder}", {"path": str(folder)}


async def _kafka(settings: Settings) -> tuple[str, dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_list)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
    finally:
        await admin.close()
    controller, brokers = cluster.get("controller_id"), len(cluster.get("brokers", []))
    if controller is None or controller < 0:
        raise RuntimeError(f"no active controller ({brokers} brokers)")
    return f"{brokers} brokers, controller {controller}", {
        "brokers": brokers,
        "controller_id": controller,
    }


def _worker(settings: Settings, service: ServiceName) -> Callable[[], Awaitable[Any]]:
    async def probe() -> tuple[str, dict[str, Any]]:
        host, port = settings.web_address(service)
        async with httpx.AsyncClient(timeout=settings.health_timeout_s) as client:
            response = await client.get(f"http://{host}:{port}/health")
        body = response.json()
        if response.status_code != 200 or body.get("status") != "ok":
            raise RuntimeError(f"{service} answered {response.status_code} {body.get('status')}")
        return f"{service} ok", {"assignment": len(body.get("assignment", []))}

    return probe


def _usage(name: str, percent: float, limit: float) -> CheckResult:
    values = {"percent": percent, "max_percent": limit}
    if percent > limit:
        return CheckResult(name, False, f"{percent:.1f}% used, above {limit:g}%", values=values)
    return CheckResult(name, True, f"{percent:.1f}% used", values=values)


def _disk(settings: Settings) -> CheckResult:
    folder = settings.state_dir if settings.state_dir.exists() else settings.state_dir.anchor
    usage = psutil.disk_usage(str(folder or "/"))
    return _usage("disk", usage.percent, settings.health_disk_max_percent)


def _memory(settings: Settings) -> CheckResult:
    return _usage("memory", psutil.virtual_memory().percent, settings.health_memory_max_percent)


async def run_health(settings: Settings) -> tuple[CheckResult, ...]:
    """Every check, concurrently, each within HEALTH_TIMEOUT_S."""
    timeout = settings.health_timeout_s
    probes: dict[str, Callable[[], Awaitable[Any]]] = {
        "postgres": lambda: _postgres(settings),
        "redis": lambda: _redis(settings),
        "qdrant": lambda: _qdrant(settings),
        "kafka": lambda: _kafka(settings),
    }
    for service in settings.health_workers:
        probes[f"worker:{service}"] = _worker(settings, service)
    results = await asyncio.gather(*(_probe(name, timeout, run) for name, run in probes.items()))
    return (*results, _disk(settings), _memory(settings))


PoolGetter = Callable[[], Awaitable[asyncpg.Pool]]
"""The worker's pool, opened on first use (so a database that is down is a finding, not a crash)."""


class HealthHistory:
    """health_checks rows: the last recorded status and each new report."""

    def __init__(self, pool: PoolGetter) -> None:
        self.pool = pool

    async def last(self) -> HealthStatus | None:
        """The status of the latest recorded check, None before the first."""
        status = await (await self.pool()).fetchval(
            "SELECT status FROM health_checks ORDER BY checked_at DESC, id DESC LIMIT 1"
        )
        return HealthStatus(status) if status else None

    async def record(self, report: HealthReport) -> None:
        """Keep a report."""
        await (await self.pool()).execute(
            "INSERT INTO health_checks (checked_at, status, checks) VALUES ($1, $2, $3::jsonb)",
            report.checked_at,
            report.status.value,
            json.dumps(report.as_dict()["checks"]),
        )


async def _previous(history: HealthHistory) -> HealthStatus | None:
    try:
        return await history.last()
    except (OSError, asyncpg.PostgresError):
        return None


async def check_health(
    settings: Settings, history: HealthHistory, alerts: AlertSink
) -> HealthReport:
    """Run the checks, record the report, and log and alert a change of status."""
    checks = await run_health(settings)
    report = HealthReport(overall(checks), checks, utcnow(), await _previous(history))
    try:
        await history.record(report)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("health check not recorded error=%s", exc)
    if report.changed:
        log.warning(
            "health changed status=%s previous=%s failing=%s",
            report.status.value,
            report.previous.value if report.previous else "-",
            ",".join(report.failing()) or "-",
        )
        await alerts(_alert(report))
    return report


def _alert(report: HealthReport) -> Alert:
    severity = {
        HealthStatus.OK: AlertSeverity.INFO,
        HealthStatus.DEGRADED: AlertSeverity.WARNING,
        HealthStatus.DOWN: AlertSeverity.CRITICAL,
    }[report.status]
    failing = ", ".join(report.failing()) or "nothing"
    return Alert(
        source="health",
        subject="system",
        severity=severity,
        message=f"health is {report.status.value} (failing: {failing})",
        state=report.status.value,
        previous_state=report.previous.value if report.previous else None,
        details={"failing": report.failing()},
    )
