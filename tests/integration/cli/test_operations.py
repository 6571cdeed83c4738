"""trendctl against the real servers: inspect scheduled, lag, trends, health, backup, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from aiokafka import TopicPartition

from streams import catalog
from streams.config import Settings
from streams.messages.topics import ITEMS_RAW
from tests.integration.cli.conftest import Trendctl, run_trendctl
from tests.support.kafka import commit_offsets, produce
from tests.support.workers import Worker, free_port


async def _execute(settings: Settings, sql: str, *args: object) -> None:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def test_inspect_scheduled_shows_next_and_last_runs(
    trendctl: Trendctl, test_settings: Settings
) -> None:
    job = f"{test_settings.namespace}health"
    slot = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    await _execute(
        test_settings,
        "INSERT INTO schedule_runs (job, scheduled_for, status, worker, detail) "
        "VALUES ($1, $2, 'TRIGGERED', 'w:1', jsonb_build_object('request_id', 'health.x'))",
        job,
        slot,
    )
    before = datetime.now(UTC)
    ran = await trendctl("inspect", "scheduled", "--json")
    assert ran.code == 0, ran.err
    schedules = {s["job"]: s for s in ran.json()["schedules"]}
    assert len(schedules) == len(catalog.schedules())
    health = schedules[job]
    assert health["cron"] == "*/5 * * * *" and health["next_run"]
    # The next run is the first 5-minute mark after the command ran (not after this line: a
    # mark may pass in between).
    next_run = datetime.fromisoformat(health["next_run"])
    assert (next_run.minute % 5, next_run.second, next_run.microsecond) == (0, 0, 0)
    assert before < next_run <= datetime.now(UTC) + timedelta(minutes=5)
    assert health["last_slot"] == slot.isoformat() and health["last_request_id"] == "health.x"
    assert ran.json()["retries"] == []
    table = await trendctl("inspect", "scheduled", env={"SCHEDULE_BACKUP": ""})
    assert table.code == 0 and "(off)" in table.out and "health.x" in table.out


async def test_lag_per_partition_with_the_sampled_status(
    trendctl: Trendctl, test_settings: Settings
) -> None:
    for n in range(3):
        await produce(test_settings, ITEMS_RAW, b"{}", key=f"k{n}".encode())
    group = f"{test_settings.namespace}cli-group"
    topic = ITEMS_RAW.full_name(test_settings)
    partitions = [TopicPartition(topic, p) for p in range(test_settings.topic_partitions)]
    await commit_offsets(test_settings, group, dict.fromkeys(partitions, 0))
    await _execute(
        test_settings,
        "INSERT INTO lag_samples (sampled_at, group_id, topic, partition, committed, end_offset, "
        "lag, status) VALUES (now(), $1, $2, 0, 0, 1, 1, 'WARN')",
        group,
        topic,
    )
    ran = await trendctl("lag", "--group", group, "--json")
    assert ran.code == 0, ran.err
    [view] = ran.json()
    assert view["group"] == group and view["total_lag"] == 3
    assert len(view["partitions"]) == test_settings.topic_partitions
    assert view["status"] == "WARN"
    assert all(p["lag"] is not None and p["reason"] is None for p in view["partitions"])
    services = (await trendctl("lag", "--json")).json()
    assert {g["status"] for g in services} == {"NOTFOUND"} and len(services) == 3
    table = await trendctl("lag", "--group", group)
    assert "WARN" in table.out and topic in table.out
    narrow = await trendctl("lag", env={"COLUMNS": "80"})
    lines = narrow.out.splitlines()
    assert narrow.code == 0 and all(len(line) <= 80 for line in lines), narrow.out
    for service in ("collector", "processor", "maintenance"):
        assert any(line.split()[:2] == [service, "NOTFOUND"] for line in lines), narrow.out
    assert f"group: prefix {test_settings.namespace}trend-stream- left out" in narrow.out


async def test_trends_top_lists_the_best_scored_topics(
    trendctl: Trendctl, test_settings: Settings
) -> None:
    for n, (state, score) in enumerate([("trending", 9.5), ("emerging", 2.0), ("dormant", 0.1)]):
        await _execute(
            test_settings,
            "INSERT INTO topics (id, label, keywords, item_count) VALUES ($1, $2, $3, $4)",
            f"t{n}",
            f"Story {n}",
            ["nimbus", "outage"],
            10 - n,
        )
        await _execute(
            test_settings,
            "INSERT INTO trends (topic_id, state, score, rank) VALUES ($1, $2, $3, $4)",
            f"t{n}",
            state,
            score,
            n + 1,
        )
    ran = await trendctl("trends", "top", "--n", "2", "--json")
    assert ran.code == 0, ran.err
    assert [t["topic_id"] for t in ran.json()] == ["t0", "t1"]
    assert ran.json()[0]["keywords"] == ["nimbus", "outage"]
    dormant = await trendctl("trends", "top", "--state", "dormant", "--json")
    assert [t["label"] for t in dormant.json()] == ["Story 2"]
    table = await trendctl("trends", "top")
    assert "Story 0" in table.out and "trending" in table.out


async def test_health_and_backup_through_the_maintenance_worker(
    test_settings: Settings, start_workers: Callable[..., list[Worker]], tmp_path: Path
) -> None:
    settings = test_settings.model_copy(
        update={
            "health_workers": ("maintenance",),
            "health_disk_max_percent": 100.0,
            "health_memory_max_percent": 100.0,
            "backup_dir": tmp_path / "backups",
        }
    )
    start_workers("maintenance", settings)
    health = await run_trendctl(settings, "health", "--json", "--timeout", "60")
    report = health.json()
    assert health.code == (0 if report["status"] == "ok" else 1), health.err
    assert report["checks"]["postgres"]["ok"] is True, report
    table = await run_trendctl(settings, "health", "--timeout", "60")
    assert f"health: {report['status']}" in table.out

    backup = await run_trendctl(settings, "backup", "now", "--json", "--timeout", "120")
    assert backup.code == 0, backup.err
    assert await asyncio.to_thread(Path(backup.json()["path"]).is_file)
    assert backup.json()["toc_entries"] > 0


async def test_health_without_a_maintenance_worker_fails_clearly(trendctl: Trendctl) -> None:
    ran = await trendctl("health", "--timeout", "1")
    assert ran.code == 1
    assert "no maintenance worker answered" in ran.error_line()


@pytest.mark.parametrize(
    ("args", "setting", "service"),
    [
        (("collect", "file"), "KAFKA_BOOTSTRAP_SERVERS", "Kafka"),
        (("lag",), "KAFKA_BOOTSTRAP_SERVERS", "Kafka"),
        (("dlq", "list"), "KAFKA_BOOTSTRAP_SERVERS", "Kafka"),
        (("requests",), "REDIS_URL", "Redis"),
        (("status", "x"), "REDIS_URL", "Redis"),
        (("inspect", "active"), "REDIS_URL", "Redis"),
        (("trends", "top"), "DATABASE_URL", "PostgreSQL"),
        (("inspect", "scheduled"), "DATABASE_URL", "PostgreSQL"),
    ],
)
async def test_an_unreachable_server_is_one_line_and_exit_code_1(
    test_settings: Settings, args: tuple[str, ...], setting: str, service: str
) -> None:
    port = free_port()
    closed = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "DATABASE_URL": f"postgresql://trend:secret@127.0.0.1:{port}/trend",
    }
    ran = await run_trendctl(test_settings, *args, env={setting: closed[setting]}, timeout=60)
    assert ran.code == 1
    assert f"cannot reach {service} at 127.0.0.1:{port}" in ran.error_line()
    assert "secret" not in ran.err
    assert "Traceback" not in ran.err


async def test_no_worker_answering_inspect_is_an_error(trendctl: Trendctl) -> None:
    closed = {f"{s}_WEB_PORT": str(free_port()) for s in ("COLLECTOR", "PROCESSOR", "MAINTENANCE")}
    ran = await trendctl("inspect", "workers", "--json", env=closed)
    assert ran.code == 1
    assert "no worker answered" in ran.error_line()
    assert [w["reachable"] for w in ran.json()] == [False, False, False]
    stats = await trendctl("inspect", "stats", env=closed)
    assert stats.code == 1 and "no worker answered" in stats.error_line()
