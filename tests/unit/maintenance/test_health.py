"""Health verdicts: which failures make the system degraded or down, and when it changed."""

from __future__ import annotations

from services.maintenance.health import CheckResult, HealthReport, HealthStatus, overall
from streams.messages.records import utcnow


def checks(*failing: str) -> list[CheckResult]:
    names = ["postgres", "redis", "qdrant", "kafka", "worker:processor", "disk", "memory"]
    return [CheckResult(name, name not in failing) for name in names]


def test_all_passing_is_ok() -> None:
    assert overall(checks()) is HealthStatus.OK


def test_redis_qdrant_a_worker_or_the_disk_failing_is_degraded() -> None:
    for name in ("redis", "qdrant", "worker:processor", "disk", "memory"):
        assert overall(checks(name)) is HealthStatus.DEGRADED, name


def test_postgres_or_kafka_failing_is_down() -> None:
    assert overall(checks("postgres")) is HealthStatus.DOWN
    assert overall(checks("kafka", "redis")) is HealthStatus.DOWN


def test_a_change_is_a_different_status_or_a_first_one_that_is_not_ok() -> None:
    def report(status: HealthStatus, previous: HealthStatus | None) -> HealthReport:
        return HealthReport(status, tuple(checks()), utcnow(), previous)

    assert report(HealthStatus.DEGRADED, HealthStatus.OK).changed
    assert not report(HealthStatus.OK, HealthStatus.OK).changed
    assert report(HealthStatus.DOWN, None).changed
    assert not report(HealthStatus.OK, None).changed


def test_the_report_names_the_failing_checks() -> None:
    data = HealthReport(HealthStatus.DEGRADED, tuple(checks("redis")), utcnow()).as_dict()
    assert data["failing"] == ["redis"]
    assert data["checks"]["redis"]["ok"] is False
