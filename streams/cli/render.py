"""How `trendctl` prints: rich tables of requests, workers, schedules, lag, dead letters, trends."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

from streams.cli.app import out
from streams.inspect import (
    GroupLagView,
    Registered,
    RequestInfo,
    ScheduleInfo,
    TrendInfo,
    WorkerInfo,
    WorkerStats,
)
from streams.records import RequestStatus

__all__ = [
    "STATE_STYLES",
    "lag_tables",
    "print_json",
    "registered_tables",
    "request_table",
    "schedule_table",
    "stats_table",
    "status_summary",
    "table",
    "timeline_table",
    "trend_table",
    "when",
    "worker_table",
]

STATE_STYLES = {
    "SUCCESS": "green",
    "FAILURE": "red",
    "REVOKED": "magenta",
    "RETRY": "yellow",
    "STARTED": "cyan",
    "RECEIVED": "blue",
    "PENDING": "dim",
}


def print_json(data: Any) -> None:
    """Machine-readable output: indented JSON on stdout."""
    out.print_json(json.dumps(data, default=str), highlight=False)


def when(epoch: float | None) -> str:
    """An epoch time as `YYYY-MM-DD HH:MM:SS` UTC ('' for none)."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(state: str) -> str:
    style = STATE_STYLES.get(state, "")
    return f"[{style}]{state}[/{style}]" if style else state


def table(title: str, columns: Iterable[str], rows: Iterable[Iterable[object]]) -> Table:
    """A table with a title on the left; each cell printed as text."""
    grid = Table(*columns, title=title, title_justify="left")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    return grid


def timeline_table(moments: list[dict[str, Any]]) -> Table:
    """The states a request went through."""
    rows = [
        (
            when(m.get("at")),
            _state(str(m.get("state"))),
            m.get("worker"),
            m.get("retries") or "",
            m.get("error") or "",
        )
        for m in moments
    ]
    return table("timeline", ("time (UTC)", "state", "worker", "retries", "error"), rows)


def status_summary(status: RequestStatus) -> None:
    """One request's final or latest status: state, error and result."""
    out.print(f"{status.request_id} {_state(status.state.value)} {status.plugin}".rstrip())
    if status.error:
        out.print(
            f"error: {status.error_type or ''} {status.error}".replace("  ", " "), markup=False
        )
    if status.eta:
        out.print(f"next attempt: {status.eta.isoformat()}")
    if status.result:
        out.print_json(json.dumps(status.result, default=str), highlight=False)


def request_table(found: list[RequestInfo], title: str) -> Table:
    """Requests, one a row."""
    rows = [
        (
            info.request_id,
            _state(info.state),
            info.plugin,
            when(info.updated_at),
            f"{info.runtime_s:.1f}s" if info.runtime_s is not None else "",
            info.retries or "",
            info.worker,
            info.error or "",
        )
        for info in found
    ]
    columns = ("request", "state", "plugin/job", "updated (UTC)", "runtime", "retries", "worker")
    return table(f"{title} ({len(found)})", (*columns, "error"), rows)


def worker_table(found: list[WorkerInfo]) -> Table:
    """Each service's worker from its /health."""
    rows = [
        (
            w.service,
            w.url,
            _health(w.status),
            _yes(w.live),
            _yes(w.ready),
            len(w.assignment),
            w.version,
            w.error,
        )
        for w in found
    ]
    columns = ("service", "url", "status", "live", "ready", "partitions", "version", "error")
    return table("workers", columns, rows)


def _health(status: str) -> str:
    style = {"ok": "green", "degraded": "yellow"}.get(status, "red")
    return f"[{style}]{status}[/{style}]"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def stats_table(found: list[WorkerStats]) -> Table:
    """Each worker's figures from /metrics."""
    names = (
        "messages_consumed",
        "messages_produced",
        "failures",
        "retries",
        "dead_letters",
        "consumer_lag",
        "processing_mean_s",
        "cpu_seconds",
        "memory_bytes",
        "open_fds",
        "uptime_s",
    )
    grid = Table("figure", *(s.service for s in found), title="stats", title_justify="left")
    for name in names:
        grid.add_row(name, *(_figure(s, name) for s in found))
    grid.add_row("requests", *(_by_state(s.requests) if s.reachable else "" for s in found))
    grid.add_row("error", *(s.error for s in found))
    return grid


def _figure(stats: WorkerStats, name: str) -> str:
    if not stats.reachable:
        return "-"
    value = stats.figures.get(name, 0.0)
    if name == "memory_bytes":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.3f}" if name in ("processing_mean_s", "cpu_seconds") else f"{value:.0f}"


def _by_state(counts: Mapping[str, float]) -> str:
    return ", ".join(f"{state}={count:.0f}" for state, count in sorted(counts.items()))


def schedule_table(found: list[ScheduleInfo]) -> Table:
    """The schedules with their next and last runs."""
    rows = [
        (
            s.service,
            s.job,
            s.runs,
            s.cron or "(off)",
            s.next_run or "",
            s.last_slot or "",
            s.last_status or "",
            s.last_request_id or "",
        )
        for s in found
    ]
    columns = ("service", "schedule", "runs", "cron", "next run", "last slot", "last", "request")
    return table(f"schedules ({found[0].timezone if found else 'UTC'})", columns, rows)


def registered_tables(found: Registered) -> list[Table]:
    """Plugins, then request kinds."""
    plugins = table(
        "plugins",
        ("plugin", "origin", "enabled"),
        ((p.name, p.origin, _yes(p.enabled)) for p in found.plugins),
    )
    kinds = table(
        "request kinds",
        ("topic", "accepts"),
        (
            ("collect.requests", "plugins above, groups: " + ", ".join(found.groups)),
            ("process.requests", ", ".join(found.process_jobs)),
            ("maintenance.requests", ", ".join(found.maintenance_jobs)),
            ("control", ", ".join(found.control_commands)),
        ),
    )
    return [plugins, kinds]


def lag_tables(found: list[GroupLagView]) -> list[Table]:
    """A summary per group, then each group's partitions."""
    summary = table(
        "consumer groups",
        ("group", "status", "state", "members", "total lag", "max lag", "sampled (UTC)"),
        (
            (g.group, g.status or "-", g.state, g.members, g.total_lag, g.max_lag, g.sampled_at)
            for g in found
        ),
    )
    tables = [summary]
    for group in found:
        if group.partitions:
            rows = (
                (p.topic, p.partition, p.committed, p.end_offset, p.lag, p.status or "-")
                for p in group.partitions
            )
            columns = ("topic", "partition", "committed", "end", "lag", "status")
            tables.append(table(group.group, columns, rows))
    return tables


def trend_table(found: list[TrendInfo]) -> Table:
    """The top trends."""
    rows = (
        (
            position,
            t.label or t.topic_id,
            t.state,
            f"{t.score:.2f}",
            t.item_count,
            f"{t.z_score:.1f}",
            ", ".join(t.keywords[:5]),
            t.topic_id,
        )
        for position, t in enumerate(found, start=1)
    )
    columns = ("#", "topic", "state", "score", "items", "z", "keywords", "id")
    return table(f"top trends ({len(found)})", columns, rows)
