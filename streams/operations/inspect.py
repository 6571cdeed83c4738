"""What the running system is doing: workers, requests, schedules, plugins, lag and trends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_args
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from croniter import croniter
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from streams import catalog
from streams.config import ServiceName, Settings
from streams.messages.records import CONTROL_COMMANDS, RequestState, RequestStatus, utcnow
from streams.operations.lag import LagStatus, group_totals, worst_status
from streams.operations.offsets import GroupOffsets, KafkaOffsets, service_groups
from streams.requests.state import RequestStates, redis_client
from streams.servers.db.pool import create_pool

__all__ = [
    "ACTIVE_STATES",
    "GroupLagView",
    "PartitionLagView",
    "PluginInfo",
    "Registered",
    "RequestInfo",
    "ScheduleInfo",
    "TrendInfo",
    "WorkerInfo",
    "WorkerStats",
    "active",
    "consumer_lag",
    "parse_metrics",
    "registered",
    "request_info",
    "request_page",
    "requests",
    "scheduled",
    "stats",
    "timeline",
    "top_trends",
    "workers",
]

T = TypeVar("T")

ACTIVE_STATES = frozenset({RequestState.RECEIVED, RequestState.STARTED, RequestState.RETRY})
"""The states of a request a worker holds (Celery's active and reserved)."""
WEB_TIMEOUT_S = 3.0


# -- workers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerInfo:
    """A service's worker as its `GET /health` describes it (`reachable` False: no answer)."""

    service: str
    url: str
    reachable: bool
    status: str = "unreachable"
    """`ok`, `degraded` (broker not answering) or `unreachable`."""
    live: bool = False
    ready: bool = False
    version: str = ""
    app_id: str = ""
    assignment: tuple[str, ...] = ()
    """`topic:partition` held by the worker."""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "assignment": list(self.assignment)}


@dataclass(frozen=True)
class WorkerStats:
    """A worker's figures from its `GET /metrics` (Prometheus), summed over labels."""

    service: str
    url: str
    reachable: bool
    figures: dict[str, float] = field(default_factory=dict)
    """messages_consumed, messages_produced, failures, retries, dead_letters, consumer_lag,
    processing_count, processing_mean_s, cpu_seconds, memory_bytes, open_fds, uptime_s."""
    requests: dict[str, float] = field(default_factory=dict)
    """Request statuses published, by state."""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _url(settings: Settings, service: ServiceName) -> str:
    host, port = settings.web_address(service)
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # bind-all: ask locally
    return f"http://{host}:{port}"


def _services(services: Iterable[ServiceName] | None) -> list[ServiceName]:
    return list(services) if services is not None else list(get_args(ServiceName))


async def _ask_each(
    settings: Settings,
    services: Iterable[ServiceName] | None,
    timeout: float,
    probe: Callable[[httpx.AsyncClient, str, str], Awaitable[T]],
) -> list[T]:
    """`probe(client, service, url)` for each service's worker at once, in service order."""
    async with httpx.AsyncClient(timeout=timeout) as client:
        return list(
            await asyncio.gather(
                *(probe(client, s, _url(settings, s)) for s in _services(services))
            )
        )


async def workers(
    settings: Settings,
    services: Iterable[ServiceName] | None = None,
    timeout: float = WEB_TIMEOUT_S,
) -> list[WorkerInfo]:
    """Ask each service's worker (at its `*_WEB_HOST:*_WEB_PORT`) for `GET /health`."""
    return await _ask_each(settings, services, timeout, _worker)


async def _worker(client: httpx.AsyncClient, service: str, url: str) -> WorkerInfo:
    try:
        response = await client.get(f"{url}/health")
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return WorkerInfo(service, url, False, error=_describe(exc))
    return WorkerInfo(
        service,
        url,
        True,
        status=str(report.get("status", "")),
        live=bool(report.get("live")),
        ready=bool(report.get("ready")),
        version=str(report.get("version", "")),
        app_id=str(report.get("app_id", "")),
        assignment=tuple(report.get("assignment") or ()),
        error=str((report.get("broker") or {}).get("error") or ""),
    )


async def stats(
    settings: Settings,
    services: Iterable[ServiceName] | None = None,
    timeout: float = WEB_TIMEOUT_S,
) -> list[WorkerStats]:
    """Each service's worker figures from `GET /metrics`."""
    return await _ask_each(settings, services, timeout, _stats)


async def _stats(client: httpx.AsyncClient, service: str, url: str) -> WorkerStats:
    try:
        response = await client.get(f"{url}/metrics")
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return WorkerStats(service, url, False, error=_describe(exc))
    figures, by_state = parse_metrics(response.text)
    return WorkerStats(service, url, True, figures, by_state)


_SUMS = {
    "trend_stream_messages_consumed_total": "messages_consumed",
    "trend_stream_messages_produced_total": "messages_produced",
    "trend_stream_failures_total": "failures",
    "trend_stream_retries_total": "retries",
    "trend_stream_dead_letters_total": "dead_letters",
    "trend_stream_consumer_lag": "consumer_lag",
    "trend_stream_processing_seconds_count": "processing_count",
    "trend_stream_processing_seconds_sum": "processing_seconds",
    "process_cpu_seconds_total": "cpu_seconds",
    "process_resident_memory_bytes": "memory_bytes",
    "process_open_fds": "open_fds",
    "process_start_time_seconds": "started_at",
}


def parse_metrics(text: str, now: float | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Prometheus text to (figures, requests by state); see WorkerStats for the figures."""
    figures = dict.fromkeys(_SUMS.values(), 0.0)
    by_state: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in _SUMS:
                figures[_SUMS[sample.name]] += sample.value
            elif sample.name == "trend_stream_requests_total":
                state = sample.labels.get("state", "")
                by_state[state] = by_state.get(state, 0.0) + sample.value
    count = figures.pop("processing_seconds"), figures["processing_count"]
    figures["processing_mean_s"] = count[0] / count[1] if count[1] else 0.0
    started = figures.pop("started_at")
    now = utcnow().timestamp() if now is None else now
    figures["uptime_s"] = max(now - started, 0.0) if started else 0.0
    return figures, by_state


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


# -- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestInfo:
    """A request's latest status, JSON-ready."""

    request_id: str
    state: str
    plugin: str
    """The plugin, group or job the request runs."""
    worker: str
    updated_at: float | None
    parent_id: str | None = None
    error: str | None = None
    error_type: str | None = None
    retries: int = 0
    eta: float | None = None
    """RETRY: when the next attempt is due (epoch seconds)."""
    runtime_s: float | None = None
    """From STARTED (or RECEIVED) to the end, or to now while it runs."""
    result: dict[str, Any] | None = None
    traceback: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def request_info(status: RequestStatus, now: float | None = None) -> RequestInfo:
    """A RequestStatus as plain data."""
    timings = status.timings or {}
    begun = timings.get("started", timings.get("received"))
    end = timings.get("finished", utcnow().timestamp() if now is None else now)
    return RequestInfo(
        request_id=status.request_id,
        state=status.state.value,
        plugin=status.plugin,
        worker=status.worker,
        updated_at=status.updated_at.timestamp() if status.updated_at else None,
        parent_id=status.parent_id,
        error=status.error,
        error_type=status.error_type,
        retries=status.retries,
        eta=status.eta.timestamp() if status.eta else None,
        runtime_s=round(end - begun, 3) if begun is not None else None,
        result=status.result,
        traceback=status.traceback,
    )


async def requests(
    settings: Settings,
    limit: int = 50,
    state: RequestState | str | None = None,
    plugin: str | None = None,
    redis: Redis | None = None,
) -> list[RequestInfo]:
    """The most recently updated requests, newest first, filtered by state(s) and plugin/job.

    `state`: one state or several separated by commas (`RECEIVED,STARTED`).
    """
    async with _Redis(settings, redis) as client:
        found = await RequestStates(client, settings).recent(limit, state, plugin)
    return [request_info(status) for status in found]


async def request_page(
    settings: Settings,
    limit: int = 50,
    offset: int = 0,
    state: RequestState | str | None = None,
    plugin: str | None = None,
    *,
    redis: Redis | None = None,
) -> tuple[list[RequestInfo], int]:
    """A page of `requests`: the `limit` after the `offset` most recently updated, newest
    first, and how many match in all."""
    async with _Redis(settings, redis) as client:
        found, total = await RequestStates(client, settings).page(limit, offset, state, plugin)
    return [request_info(status) for status in found], total


async def active(
    settings: Settings, limit: int = 100, redis: Redis | None = None
) -> list[RequestInfo]:
    """Requests a worker holds now: RECEIVED, STARTED or RETRY (Celery's active and reserved)."""
    return await requests(settings, limit, ",".join(sorted(ACTIVE_STATES)), redis=redis)


async def timeline(
    settings: Settings, request_id: str, redis: Redis | None = None
) -> list[dict[str, Any]]:
    """Every status a request went through, oldest first (state, at, worker, error, ...)."""
    async with _Redis(settings, redis) as client:
        return await RequestStates(client, settings).timeline(request_id)


class _Redis:
    """The caller's Redis client, or one of our own closed on exit."""

    def __init__(self, settings: Settings, redis: Redis | None) -> None:
        self.own = redis is None
        self.redis = redis if redis is not None else redis_client(settings)

    async def __aenter__(self) -> Redis:
        return self.redis

    async def __aexit__(self, *exc: object) -> None:
        if self.own:
            await self.redis.aclose()


class _Pool:
    """The caller's PostgreSQL pool, or a small one of our own closed on exit."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool | None) -> None:
        self.settings = settings
        self.given = pool
        self.own: asyncpg.Pool | None = None

    async def __aenter__(self) -> asyncpg.Pool:
        if self.given is not None:
            return self.given
        self.own = await create_pool(self.settings, min_size=1, max_size=2)
        return self.own

    async def __aexit__(self, *exc: object) -> None:
        if self.own is not None:
            await self.own.close()


# -- schedules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule, its next slot and its last run (from `schedule_runs`)."""

    service: str
    job: str
    """The schedule's name as claimed in `schedule_runs` (NAMESPACE + job)."""
    runs: str
    cron: str
    """Empty: switched off."""
    timezone: str
    next_run: str | None
    """ISO 8601 in the schedule's timezone; None when switched off."""
    last_slot: str | None = None
    last_status: str | None = None
    last_request_id: str | None = None
    last_worker: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


async def scheduled(
    settings: Settings, now: datetime | None = None, pool: asyncpg.Pool | None = None
) -> list[ScheduleInfo]:
    """Every schedule of the catalog with its cron, next run and last run (Celery Beat's)."""
    entries = catalog.schedules()
    names = [settings.namespace + entry.name for entry in entries]
    async with _Pool(settings, pool) as db:
        rows = await db.fetch(
            "SELECT DISTINCT ON (job) job, scheduled_for, status, worker, detail "
            "FROM schedule_runs WHERE job = ANY($1::text[]) ORDER BY job, scheduled_for DESC",
            names,
        )
    last = {row["job"]: row for row in rows}
    when = now or utcnow()
    return [
        _schedule(settings, entry, when, last.get(settings.namespace + entry.name))
        for entry in entries
    ]


def _schedule(
    settings: Settings, entry: catalog.Scheduled, now: datetime, last: asyncpg.Record | None
) -> ScheduleInfo:
    cron = entry.cron.cron(settings)
    tz = ZoneInfo(settings.schedule_timezone)
    following = croniter(cron, now.astimezone(tz)).get_next(datetime) if cron else None
    detail = _json_object(last["detail"]) if last is not None else {}
    return ScheduleInfo(
        service=entry.service,
        job=settings.namespace + entry.name,
        runs=entry.runs,
        cron=cron,
        timezone=settings.schedule_timezone,
        next_run=following.isoformat() if following else None,
        last_slot=last["scheduled_for"].astimezone(tz).isoformat() if last is not None else None,
        last_status=last["status"] if last is not None else None,
        last_request_id=detail.get("request_id"),
        last_worker=last["worker"] if last is not None else None,
    )


def _json_object(value: object) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


# -- registered ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginInfo:
    """A collector plugin: where it comes from and whether the settings enable it."""

    name: str
    origin: str
    """`builtin`, or the entry point's target (`package.module:Class`)."""
    enabled: bool


@dataclass(frozen=True)
class Registered:
    """What the workers accept: plugins and groups, processing and maintenance jobs."""

    plugins: tuple[PluginInfo, ...]
    groups: tuple[str, ...]
    process_jobs: tuple[str, ...]
    maintenance_jobs: tuple[str, ...]
    control_commands: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "plugins": [asdict(p) for p in self.plugins],
            "groups": list(self.groups),
            "process_jobs": list(self.process_jobs),
            "maintenance_jobs": list(self.maintenance_jobs),
            "control_commands": list(self.control_commands),
        }


def registered(settings: Settings) -> Registered:
    """The plugins (built-ins and `trend_stream.plugins` entry points) and the request kinds.

    Entry points are read from the installed packages' metadata; no plugin is imported.
    """
    origins = {plugin.name: "builtin" for plugin in catalog.BUILTIN_PLUGINS}
    for entry in entry_points(group=catalog.PLUGIN_ENTRY_POINTS):
        origins[entry.name] = entry.value
    enabled, disabled = set(settings.plugins_enabled), set(settings.plugins_disabled)
    plugins = tuple(
        PluginInfo(name, origin, (not enabled or name in enabled) and name not in disabled)
        for name, origin in sorted(origins.items())
    )
    return Registered(
        plugins,
        catalog.group_names(),
        tuple(sorted(catalog.job_names("processor"))),
        tuple(sorted(catalog.job_names("maintenance"))),
        tuple(sorted(CONTROL_COMMANDS)),
    )


# -- consumer lag ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionLagView:
    """One partition of a group now, with the status of its latest lag sample (if any)."""

    topic: str
    partition: int
    committed: int | None
    end_offset: int | None
    lag: int | None
    """None when an offset could not be read now (never 0 for it)."""
    status: str | None = None
    """UNKNOWN when its lag is unknown now, else Burrow's status from the latest `lag_samples`
    row; None when never sampled."""
    reason: str | None = None
    """Why the lag is unknown."""


@dataclass(frozen=True)
class GroupLagView:
    """A consumer group now: broker state, members, lag, and its latest sampled status."""

    group: str
    state: str
    members: int
    total_lag: int | None
    """None without partitions or when a partition's lag is unknown."""
    max_lag: int | None
    partitions: tuple[PartitionLagView, ...]
    status: str | None = None
    """The worst partition status (NOTFOUND without partitions, UNKNOWN at least when a
    partition's lag is unknown); None: not sampled."""
    sampled_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "partitions": [asdict(p) for p in self.partitions]}


async def consumer_lag(
    settings: Settings,
    group: str | None = None,
    pool: asyncpg.Pool | None = None,
    with_status: bool = True,
) -> list[GroupLagView]:
    """The current lag of each service's group (or of `group`), per partition, from the broker;
    with the latest Burrow status of each partition from `lag_samples` when `with_status`."""
    groups = [group] if group else service_groups(settings)
    offsets = KafkaOffsets(settings)
    try:
        read = [await offsets.read(name) for name in groups]
    finally:
        await offsets.close()
    sampled: dict[tuple[str, str, int], tuple[str, datetime]] = {}
    if with_status:
        sampled = await _latest_samples(settings, groups, pool)
    return [_group_view(g, sampled) for g in read]


async def _latest_samples(
    settings: Settings, groups: list[str], pool: asyncpg.Pool | None
) -> dict[tuple[str, str, int], tuple[str, datetime]]:
    async with _Pool(settings, pool) as db:
        try:
            rows = await _fetch_samples(db, groups)
        except asyncpg.UndefinedTableError:  # a database without the 0004 migration
            return {}
    return {
        (row["group_id"], row["topic"], row["partition"]): (row["status"], row["sampled_at"])
        for row in rows
    }


async def _fetch_samples(db: asyncpg.Pool, groups: list[str]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT DISTINCT ON (group_id, topic, partition) group_id, topic, partition, status, "
        "sampled_at FROM lag_samples WHERE group_id = ANY($1::text[]) "
        "ORDER BY group_id, topic, partition, sampled_at DESC",
        groups,
    )
    return rows


def _group_view(
    read: GroupOffsets, sampled: dict[tuple[str, str, int], tuple[str, datetime]]
) -> GroupLagView:
    partitions = []
    times = []
    for reading in read.readings():
        found = sampled.get((read.group, reading.topic, reading.partition))
        if found:
            times.append(found[1])
        status = found[0] if found else None
        if reading.lag is None:
            status = LagStatus.UNKNOWN.value
        partitions.append(PartitionLagView(*reading.read, status, reading.reason))
    total, biggest = group_totals([p.lag for p in partitions])
    return GroupLagView(
        group=read.group,
        state=read.state,
        members=read.members,
        total_lag=total,
        max_lag=biggest,
        partitions=tuple(partitions),
        status=_worst([p.status for p in partitions if p.status], bool(partitions)),
        sampled_at=max(times).isoformat() if times else None,
    )


def _worst(statuses: list[str], has_partitions: bool) -> str | None:
    if not has_partitions:
        return LagStatus.NOTFOUND.value
    known = [LagStatus(s) for s in statuses if s in LagStatus.__members__]
    return worst_status(known).value if known else None


# -- trends ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendInfo:
    """A topic's current trend, as the processor last scored it."""

    rank: int | None
    topic_id: str
    label: str
    state: str
    score: float
    item_count: int
    velocity: float
    z_score: float
    keywords: tuple[str, ...]
    updated_at: str
    representative_title: str = ""
    """The title of the member closest to the topic's centroid ('' before the pipeline set it)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {**asdict(self), "keywords": list(self.keywords)}


async def top_trends(
    settings: Settings, n: int = 10, state: str | None = None, pool: asyncpg.Pool | None = None
) -> list[TrendInfo]:
    """The `n` best-scored trends of topics not merged away, optionally of one state."""
    async with _Pool(settings, pool) as db:
        rows = await db.fetch(
            "SELECT t.rank, t.topic_id, tp.label, t.state, t.score, tp.item_count, t.velocity, "
            "t.z_score, tp.keywords, t.updated_at, tp.representative_title FROM trends t "
            "JOIN topics tp ON tp.id = t.topic_id "
            "WHERE tp.merged_into IS NULL AND ($2::text IS NULL OR t.state = $2) "
            "ORDER BY t.score DESC, t.topic_id LIMIT $1",
            n,
            state,
        )
    return [
        TrendInfo(
            rank=row["rank"],
            topic_id=row["topic_id"],
            label=row["label"],
            state=row["state"],
            score=float(row["score"]),
            item_count=int(row["item_count"]),
            velocity=float(row["velocity"]),
            z_score=float(row["z_score"]),
            keywords=tuple(row["keywords"] or ()),
            updated_at=row["updated_at"].isoformat(),
            representative_title=row["representative_title"] or "",
        )
        for row in rows
    ]
