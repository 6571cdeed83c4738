"""Request states and revocations: Kafka holds them, Redis caches them for any client to read."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from redis.asyncio import Redis

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import ControlCommand, RequestState, RequestStatus
from streams.messages.topics import COLLECT_RESULTS, CONTROL, MAINTENANCE_RESULTS, PROCESS_RESULTS

__all__ = [
    "HISTORY_TOPICS",
    "TIMELINE_MAX",
    "CatchUp",
    "HistoryUnavailableError",
    "RequestStates",
    "redis_client",
    "warm_request_cache",
]

log = logging.getLogger(__name__)

TIMELINE_MAX = 50
"""Statuses kept per request in its timeline (the latest ones)."""
RECENT_PAGE = 200
RECENT_SCAN_MAX = 10_000
"""A filtered listing looks at this many of the most recently updated requests at most."""
HISTORY_TOPICS = (COLLECT_RESULTS, PROCESS_RESULTS, MAINTENANCE_RESULTS, CONTROL)
"""Where the cache comes from: every status (compacted by request id) and every revocation."""
MISS_CATCH_UP_EVERY_S = 1.0
"""A status missing from Redis sends a client to Kafka at most this often (per client)."""
KAFKA_RETRY_AFTER_S = 5.0
"""After Kafka failed to answer, the cache is served as it is for this long before trying again."""
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0
APPLY_CHUNK = 200

# Keep a status from Kafka unless Redis holds one at least as recent, and merge its timeline
# entries with those Redis has (one per state and time, oldest first, the last TIMELINE_MAX).
# KEYS: status, timeline, index. ARGV: request id, latest status, its time, TTL left, the
# timeline cap, then the timeline entries (JSON).
_APPLY_STATUS = """
local known = redis.call('ZSCORE', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 or not known or tonumber(known) < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
local entries, seen, added = {}, {}, false
local function moment(entry)
  local decoded = cjson.decode(entry)
  return decoded['at'], decoded['state'] .. '@' .. string.format('%.6f', decoded['at'])
end
for i, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local at, id = moment(entry)
  seen[id] = true
  table.insert(entries, {at, #entries, entry})
end
for i = 6, #ARGV do
  local at, id = moment(ARGV[i])
  if not seen[id] then
    seen[id], added = true, true
    table.insert(entries, {at, #entries, ARGV[i]})
  end
end
if added then
  table.sort(entries, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  redis.call('DEL', KEYS[2])
  for i = math.max(1, #entries - tonumber(ARGV[5]) + 1), #entries do
    redis.call('RPUSH', KEYS[2], entries[i][3])
  end
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return added and 1 or 0
"""


class HistoryUnavailableError(Exception):
    """Kafka did not answer while the cache was being brought up to date."""


@dataclass
class CatchUp:
    """What one catch-up of the cache from Kafka read and kept."""

    statuses: int = 0
    requests: int = 0
    revocations: int = 0
    full: bool = False
    """True when it started from the topics' beginning (the cache was empty or lost)."""
    seconds: float = 0.0
    offsets: dict[str, int] = field(default_factory=dict)


def redis_client(settings: Settings) -> Redis:
    """A Redis client on REDIS_URL (connections are opened on first use)."""
    return Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=10)


class RequestStates:
    """Request statuses by id (TTL REQUEST_STATE_TTL_S), plus the set of revoked request ids.

    Also an index of the requests by last update (sorted set `<NAMESPACE>requests`) and each
    request's timeline (`<NAMESPACE>request:<id>:timeline`, its last TIMELINE_MAX statuses).

    Redis is a cache: Kafka holds every status (the compacted result topics, keyed by request
    id) and every revocation (`control`). `<NAMESPACE>requests:offsets` records how far the
    cache was built from each of their partitions; when it is missing (Redis lost its data, or
    never had it) the first read rebuilds the cache from the topics' beginning, and a status
    asked for and not in Redis sends the reader to Kafka for what was published since.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = f"{settings.namespace}request:"
        self.index = f"{settings.namespace}requests"
        self.offsets_key = f"{settings.namespace}requests:offsets"
        self.ttl = settings.request_state_ttl_s
        self._apply = redis.register_script(_APPLY_STATUS)
        self._lock = asyncio.Lock()
        self._caught_up_at = float("-inf")
        self._kafka_failed_at = float("-inf")

    async def save(self, status: RequestStatus) -> None:
        """Keep this status as the request's latest, index it and add it to its timeline."""
        at = status.updated_at.timestamp() if status.updated_at else 0.0
        timeline = self._timeline_key(status.request_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.prefix + status.request_id, status.dumps(), ex=self.ttl)
            pipe.zadd(self.index, {status.request_id: at})
            pipe.zremrangebyscore(self.index, "-inf", at - self.ttl)
            pipe.expire(self.index, self.ttl)
            pipe.rpush(timeline, json.dumps(_moment(status, at)))
            pipe.ltrim(timeline, -TIMELINE_MAX, -1)
            pipe.expire(timeline, self.ttl)
            pipe.expire(self.offsets_key, self.ttl)
            await pipe.execute()

    async def get(self, request_id: str) -> RequestStatus | None:
        """The latest status of a request, or None if none is known (Celery's PENDING).

        Not in Redis: looked up in Kafka (what was published since the cache was last brought
        up to date, or everything when the cache was lost), then read again.
        """
        status = await self._cached(request_id)
        if status is None and await self._catch_up_on_miss():
            status = await self._cached(request_id)
        return status

    async def _cached(self, request_id: str) -> RequestStatus | None:
        payload = await self.redis.get(self.prefix + request_id)
        if payload is None:
            return None
        try:
            return RequestStatus.parse(payload)
        except RecordValidationError:
            return None

    async def recent(
        self, limit: int = 50, state: RequestState | str | None = None, plugin: str | None = None
    ) -> list[RequestStatus]:
        """The latest status of the most recently updated requests, newest first.

        `state` (one state, or several separated by commas) and `plugin` (a plugin or job name)
        filter them among the RECENT_SCAN_MAX latest; at most `limit` are returned.
        """
        await self.ensure_cached()
        found: list[RequestStatus] = []
        async with aclosing(self._scan(_states(state), plugin)) as matching:
            async for status in matching:
                found.append(status)
                if len(found) >= limit:
                    break
        return found

    async def page(
        self,
        limit: int = 50,
        offset: int = 0,
        state: RequestState | str | None = None,
        plugin: str | None = None,
    ) -> tuple[list[RequestStatus], int]:
        """A page of `recent`: the `limit` requests after the `offset` most recently updated,
        newest first, and how many there are in all (filtered: among the RECENT_SCAN_MAX
        latest)."""
        states = _states(state)
        await self.ensure_cached()
        if not states and not plugin:
            total = await self.redis.zcard(self.index)
            ids = await self.redis.zrevrange(self.index, offset, offset + limit - 1)
            return await self._many([_text(i) for i in ids]), int(total)
        found = [status async for status in self._scan(states, plugin)]
        return found[offset : offset + limit], len(found)

    async def _scan(
        self, states: frozenset[RequestState], plugin: str | None
    ) -> AsyncGenerator[RequestStatus, None]:
        """The requests of these states (any: empty) and plugin, most recently updated first,
        among the RECENT_SCAN_MAX latest."""
        start = 0
        while start < RECENT_SCAN_MAX:
            ids = await self.redis.zrevrange(self.index, start, start + RECENT_PAGE - 1)
            if not ids:
                return
            start += len(ids)
            for status in await self._many([_text(i) for i in ids]):
                if (not states or status.state in states) and (
                    not plugin or status.plugin == plugin
                ):
                    yield status

    async def timeline(self, request_id: str) -> list[dict[str, Any]]:
        """Every status the request went through (the last TIMELINE_MAX), oldest first:
        `state`, `at` (epoch seconds), `worker`, `error`, `error_type`, `retries`, `eta`."""
        await self.ensure_cached()
        raw = await self.redis.lrange(self._timeline_key(request_id), 0, -1)
        return [json.loads(entry) for entry in raw]

    async def _many(self, request_ids: list[str]) -> list[RequestStatus]:
        payloads = await self.redis.mget([self.prefix + i for i in request_ids])
        statuses = []
        for payload in payloads:
            if payload is None:
                continue
            try:
                statuses.append(RequestStatus.parse(payload))
            except RecordValidationError:
                continue
        return statuses

    def _timeline_key(self, request_id: str) -> str:
        return f"{self.prefix}{request_id}:timeline"

    def _revoked_key(self, request_id: str) -> str:
        return f"{self.prefix}{request_id}:revoked"

    async def revoke(self, request_id: str) -> None:
        """Mark a request revoked: skipped if queued, stopped if running."""
        await self.redis.set(self._revoked_key(request_id), "1", ex=self.ttl)

    async def is_revoked(self, request_id: str) -> bool:
        """True once the request was revoked (the cache is rebuilt first if it was lost)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self._revoked_key(request_id))
            pipe.exists(self.offsets_key)
            revoked, cached = await pipe.execute()
        if revoked or cached:
            return bool(revoked)
        await self.ensure_cached()
        return bool(await self.redis.exists(self._revoked_key(request_id)))

    async def ensure_cached(self) -> None:
        """Rebuild the cache from Kafka if Redis does not hold it (lost, or never built)."""
        if not await self.redis.exists(self.offsets_key):
            await self._try_catch_up(only_if_lost=True)

    async def catch_up(self) -> CatchUp:
        """Bring the cache up to date with Kafka: every status and revocation published since
        it was last brought up to date (all of them when Redis does not hold the cache).

        Raises HistoryUnavailableError when Kafka does not answer.
        """
        async with self._lock:
            return await self._catch_up()

    async def _catch_up_on_miss(self) -> bool:
        """Catch up after a miss, at most every MISS_CATCH_UP_EVERY_S; True if it ran."""
        if time.monotonic() - self._caught_up_at < MISS_CATCH_UP_EVERY_S:
            return False
        return await self._try_catch_up()

    async def _try_catch_up(self, only_if_lost: bool = False) -> bool:
        """A catch-up unless Kafka failed just now; Kafka away is logged, never raised: the
        cache answers as it is. `only_if_lost`: skipped if another caller rebuilt it meanwhile."""
        if time.monotonic() - self._kafka_failed_at < KAFKA_RETRY_AFTER_S:
            return False
        async with self._lock:
            if only_if_lost and await self.redis.exists(self.offsets_key):
                return True
            try:
                await self._catch_up()
            except HistoryUnavailableError as exc:
                self._kafka_failed_at = time.monotonic()
                log.warning("request cache not brought up to date from kafka: %s", exc)
                return False
        return True

    async def _catch_up(self) -> CatchUp:
        started = time.monotonic()
        stored = await self.redis.hgetall(self.offsets_key)
        known = {_text(k): int(v) for k, v in stored.items()}
        report = CatchUp(full=not known)
        history = _History(self.settings, known)
        try:
            async with aclosing(history.batches()) as batches:
                async for records in batches:
                    await self._apply_records(records, report)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise HistoryUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        report.offsets = history.ends
        marker: dict[Any, Any] = {**history.ends, "built": int(time.time())}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.offsets_key, mapping=marker)
            pipe.expire(self.offsets_key, self.ttl)
            await pipe.execute()
        self._caught_up_at = time.monotonic()
        report.seconds = round(self._caught_up_at - started, 3)
        if report.full or report.requests or report.revocations:
            log.info(
                "request cache caught up from kafka full=%s statuses=%d requests=%d "
                "revocations=%d seconds=%.3f",
                report.full,
                report.statuses,
                report.requests,
                report.revocations,
                report.seconds,
            )
        return report

    async def _apply_records(
        self, records: list[ConsumerRecord[Any, Any]], report: CatchUp
    ) -> None:
        """Keep the statuses and revocations of these records (one partition's, in order)."""
        statuses: dict[str, list[RequestStatus]] = {}
        revoked: dict[str, float] = {}
        control = CONTROL.full_name(self.settings)
        for record in records:
            if record.value is None:
                continue
            if record.topic == control:
                command = _parsed(ControlCommand, record.value)
                if isinstance(command, ControlCommand) and command.command == "revoke":
                    revoked[command.request_id] = _epoch(command.issued_at)
            else:
                status = _parsed(RequestStatus, record.value)
                if isinstance(status, RequestStatus):
                    statuses.setdefault(status.request_id, []).append(status)
                    report.statuses += 1
        report.requests += await self._apply_statuses(statuses)
        report.revocations += await self._apply_revocations(revoked)

    async def _apply_statuses(self, statuses: dict[str, list[RequestStatus]]) -> int:
        now, kept = time.time(), 0
        items = list(statuses.items())
        for chunk in _chunks(items, APPLY_CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id, seen in chunk:
                    latest = seen[-1]
                    at = _epoch(latest.updated_at)
                    left = int(self.ttl - (now - at))
                    if left <= 0:
                        continue
                    moments = [json.dumps(_moment(s, _epoch(s.updated_at))) for s in seen]
                    keys = [self.prefix + request_id, self._timeline_key(request_id), self.index]
                    args = [request_id, latest.dumps(), at, left, TIMELINE_MAX, *moments]
                    await self._apply(keys=keys, args=args, client=pipe)
                    kept += 1
                pipe.zremrangebyscore(self.index, "-inf", now - self.ttl)
                pipe.expire(self.index, self.ttl)
                await pipe.execute()
        return kept

    async def _apply_revocations(self, revoked: dict[str, float]) -> int:
        now, kept = time.time(), 0
        if not revoked:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id, at in revoked.items():
                left = int(self.ttl - (now - at))
                if left > 0:
                    pipe.set(self._revoked_key(request_id), "1", ex=left, nx=True)
                    kept += 1
            await pipe.execute()
        return kept


class _History:
    """Reads the history topics from given offsets (or their beginning) to their end now."""

    def __init__(self, settings: Settings, start: dict[str, int]) -> None:
        self.settings = settings
        self.start = start
        self.ends: dict[str, int] = {}

    async def batches(self) -> AsyncGenerator[list[ConsumerRecord[Any, Any]], None]:
        """Each fetched batch of one partition's records, in order, until every end is reached."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_list,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000),
        )
        try:
            await asyncio.wait_for(consumer.start(), CONNECT_TIMEOUT_S)
            partitions = await self._partitions(consumer)
            if not partitions:
                return
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            self.ends = {_name(tp): end for tp, end in ends.items()}
            await self._seek(consumer, partitions, ends)
            deadline = time.monotonic() + READ_TIMEOUT_S
            while behind := [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"history not read to its end in {READ_TIMEOUT_S:g} s")
                fetched = await consumer.getmany(*behind, timeout_ms=500)
                for tp, records in fetched.items():
                    yield [record for record in records if record.offset < ends[tp]]
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """The partitions of the history topics that exist (none is created by reading)."""
        # What consumer.topics() asks for, kept whole: the partitions of every topic.
        cluster = await consumer._client.fetch_all_metadata()
        found = []
        for spec in HISTORY_TOPICS:
            name = spec.full_name(self.settings)
            numbers = cluster.partitions_for_topic(name) or set()
            found += [TopicPartition(name, n) for n in sorted(numbers)]
        return found

    async def _seek(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[TopicPartition],
        ends: dict[TopicPartition, int],
    ) -> None:
        """From the stored offset; from the beginning when there is none, or when it lies past
        the end (the topic was deleted and created again)."""
        resumed = {tp: self.start.get(_name(tp), -1) for tp in partitions}
        fresh = [tp for tp, offset in resumed.items() if not 0 <= offset <= ends[tp]]
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        for tp, offset in resumed.items():
            if tp not in fresh:
                consumer.seek(tp, offset)


async def warm_request_cache(settings: Settings) -> CatchUp | None:
    """Bring the request cache up to date with Kafka as a worker starts (rebuilt whole if
    Redis lost it). A server away is logged, not raised: the cache is rebuilt on first use."""
    redis = redis_client(settings)
    try:
        return await RequestStates(redis, settings).catch_up()
    except Exception as exc:  # noqa: BLE001 - a worker starts anyway; reads rebuild it later
        log.warning(
            "request cache not brought up to date at start: %s: %s", type(exc).__name__, exc
        )
        return None
    finally:
        await redis.aclose()


def _moment(status: RequestStatus, at: float) -> dict[str, Any]:
    """One timeline entry of a status."""
    return {
        "state": status.state.value,
        "at": at,
        "worker": status.worker,
        "error": status.error,
        "error_type": status.error_type,
        "retries": status.retries,
        "eta": status.eta.isoformat() if status.eta else None,
    }


def _states(state: RequestState | str | None) -> frozenset[RequestState]:
    """The states a filter names (`"RECEIVED,STARTED"` or one state); empty: any state."""
    if state is None or state == "":
        return frozenset()
    if isinstance(state, RequestState):
        return frozenset({state})
    return frozenset(
        RequestState(part.strip().upper()) for part in state.split(",") if part.strip()
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _epoch(at: Any) -> float:
    return float(at.timestamp()) if at is not None else 0.0


def _parsed(kind: type[RequestStatus] | type[ControlCommand], payload: bytes) -> object:
    try:
        return kind.parse(payload)
    except RecordValidationError:
        return None


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
