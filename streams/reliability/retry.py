"""Retries the Kafka way: failed messages wait in retry topics, then go to a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import asyncpg
import httpx
import redis.exceptions
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from streams.config import Settings
from streams.exceptions import RecordValidationError, UnknownPluginError
from streams.messages import metrics
from streams.messages.delivery import Delivery, Failure
from streams.messages.records import RequestState, RequestStatus
from streams.messages.topics import RETRY_LEVELS, TopicSpec, dead_letter_topic, retry_topic
from streams.reliability.limits import HardTimeLimitExceeded

__all__ = [
    "NON_RETRYABLE",
    "OUTAGE_ERRORS",
    "QDRANT_AWAY_STATUSES",
    "Decision",
    "Guard",
    "Handler",
    "Rejected",
    "RetryPolicy",
    "is_outage",
    "outage_pause",
]

log = logging.getLogger(__name__)
Handler = Callable[[list[Delivery]], Awaitable[None]]
"""Handles deliveries; raises when they failed (all of them: one outcome per call)."""

NON_RETRYABLE: tuple[type[BaseException], ...] = (
    RecordValidationError,
    UnknownPluginError,
    HardTimeLimitExceeded,
)
"""Errors no retry can fix (bad input; work that ignored its cancellation): dead-lettered at
once."""
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
)
"""A server trend-stream depends on is unreachable: the message is retried in place, blocking,
until it is back (every message would fail the same way; none of them is at fault)."""
_DROPPED_CONNECTION = re.compile(
    r"another operation \(2\) is in progress|protocol is in the \"failed\" state|not connected"
)
"""asyncpg's InternalClientError on a connection the server dropped: the farewell error
PostgreSQL sends a connection it terminates (shutdown, restart, pg_terminate_backend) left the
protocol consuming an error (state 2) between two operations, or failed; the next operation
on it is refused (asyncpg issue #784). The pool terminates that connection; another is opened."""
QDRANT_ERRORS = "qdrant_client.http.exceptions"
"""The module of Qdrant's client errors, read where the client was imported (importing it
costs a second at every start of a worker or trendctl that never talks to Qdrant)."""
QDRANT_AWAY_STATUSES = frozenset({502, 503, 504})
"""HTTP statuses of a Qdrant server that is starting, stopping or behind a proxy without it."""


def is_outage(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says a server is down, not that the message is bad."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OUTAGE_ERRORS) or _server_away(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _server_away(exc: BaseException) -> bool:
    """The outages told by an error's content: a PostgreSQL connection the server dropped, a
    Qdrant server unreachable (its client wraps the transport error) or answering 502-504."""
    if isinstance(exc, asyncpg.InternalClientError):
        return bool(_DROPPED_CONNECTION.search(str(exc)))
    qdrant = sys.modules.get(QDRANT_ERRORS)
    if qdrant is None:
        return False  # Qdrant's client never imported here: none of its errors can be raised
    if isinstance(exc, qdrant.ResponseHandlingException):
        return isinstance(exc.source, httpx.TransportError)
    if isinstance(exc, qdrant.UnexpectedResponse):
        return exc.status_code in QDRANT_AWAY_STATUSES
    return False


def outage_pause(settings: Settings, outages: int) -> float:
    """Seconds to wait before trying again after the `outages`-th outage in a row: doubling from
    0.5 s, capped at OUTAGE_RETRY_MAX_S, then drawn between half and all of it."""
    pause = min(settings.outage_retry_max_s, 0.5 * 2 ** min(outages, 10))
    return pause * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class Decision:
    """What happens to a failed message: another try after `due`, or the dead-letter topic."""

    action: Literal["retry", "dead"]
    attempt: int
    """The failures behind the message, this one included."""
    due: float = 0.0
    """Epoch seconds before which a retry must not run."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failed message is tried again (Celery's autoretry, per kind)."""

    max_retries: int
    backoff_s: float = 1.0
    backoff_max_s: float = 600.0
    jitter: bool = True
    retryable: tuple[type[BaseException], ...] = (Exception,)
    """Errors worth another try (Celery's autoretry_for); any other is dead-lettered at once."""
    non_retryable: tuple[type[BaseException], ...] = NON_RETRYABLE
    """Errors never retried, even when they are also `retryable` (bad input)."""

    @classmethod
    def for_kind(cls, settings: Settings, max_retries: int) -> RetryPolicy:
        """A policy with the configured backoff and `max_retries`."""
        return cls(
            max_retries,
            settings.retry_backoff_s,
            settings.retry_backoff_max_s,
            settings.retry_jitter,
        )

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds before retry `attempt` (1-based): exponential, capped, with full jitter."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1))
        return rand() * ceiling if self.jitter else ceiling

    def decide(self, exc: BaseException, attempt: int, now: float | None = None) -> Decision:
        """The fate of a message after its `attempt`-th failure (1-based) with `exc`."""
        retry = isinstance(exc, self.retryable) and not isinstance(exc, self.non_retryable)
        if not retry or attempt > self.max_retries:
            return Decision("dead", attempt)
        return Decision("retry", attempt, (now or time.time()) + self.backoff(attempt))


class Rejected(Exception):  # noqa: N818 - a signal, like faust's Skip
    """Raised by a handler that already reported a failure and chose its fate."""

    def __init__(self, failure: Failure, decision: Decision) -> None:
        super().__init__(f"{failure.error_class}: {failure.message}")
        self.failure = failure
        self.decision = decision

    @classmethod
    def of_status(cls, status: RequestStatus) -> Rejected | None:
        """A reported RETRY or FAILURE as the fate of its message (None: nothing to route)."""
        if status.state not in (RequestState.RETRY, RequestState.FAILURE):
            return None
        error = Failure(status.error_type or "Error", status.error or "", status.traceback or "")
        if status.state is RequestState.RETRY:
            due = status.eta.timestamp() if status.eta else 0.0
            return cls(error, Decision("retry", status.retries, due))
        return cls(error, Decision("dead", max(status.retries, 1)))


@dataclass(frozen=True)
class Route:
    """A guarded topic: its catalog entry and its retry policy."""

    spec: TopicSpec
    policy: RetryPolicy


class Guard:
    """Runs handlers; sends what they fail to a retry topic or the dead-letter topic.

    An outage (database, Redis or broker down) is retried in place until it ends, so no
    message is dead-lettered because a server was away.
    """

    def __init__(self, settings: Settings, routes: list[Route]) -> None:
        self.settings = settings
        self.routes = {route.spec.full_name(settings): route for route in routes}
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self.stopping = False

    def route(self, topic: str) -> Route:
        """The route of a guarded topic (full name)."""
        return self.routes[topic]

    async def handle(self, deliveries: list[Delivery], handler: Handler) -> None:
        """Run `handler` until it succeeds or its messages are routed (retry or dead letter)."""
        outages = 0
        while True:
            try:
                await handler(deliveries)
            except Rejected as rejected:
                await self._send_all(deliveries, rejected.failure, rejected.decision)
            except Exception as exc:
                if not is_outage(exc):
                    await self.fail(deliveries, exc)
                    return
                if self.stopping:
                    raise  # left uncommitted: read again after the restart
                outages += 1
                await self._wait_out(deliveries, exc, outages)
                continue
            return

    async def fail(self, deliveries: list[Delivery], exc: BaseException) -> None:
        """Route each message after a failure, by its own attempt count."""
        failure = Failure.of(exc)
        for delivery in deliveries:
            decision = self.route(delivery.topic).policy.decide(exc, delivery.attempt + 1)
            await self.send(delivery, failure, decision)

    async def reject(self, delivery: Delivery, failure: Failure) -> None:
        """Dead-letter one message at once (it can never succeed: malformed, invalid)."""
        await self.send(delivery, failure, Decision("dead", delivery.attempt + 1))

    async def _send_all(
        self, deliveries: list[Delivery], failure: Failure, decision: Decision
    ) -> None:
        for delivery in deliveries:
            await self.send(delivery, failure, decision)

    async def _wait_out(self, deliveries: list[Delivery], exc: BaseException, outages: int) -> None:
        pause = outage_pause(self.settings, outages)
        first = deliveries[0]
        metrics.record_retry(first.topic, type(exc).__name__)
        log.warning(
            "server unavailable, retrying in place attempt=%d in_s=%.1f error=%s: %s",
            outages,
            pause,
            type(exc).__name__,
            exc,
            extra=first.where,
        )
        await asyncio.sleep(pause)

    async def send(self, delivery: Delivery, failure: Failure, decision: Decision) -> None:
        """Produce the message to its next retry topic or its dead-letter topic, durably."""
        route = self.route(delivery.topic)
        if decision.action == "retry":
            level = min(decision.attempt, RETRY_LEVELS)
            target = retry_topic(route.spec, level).full_name(self.settings)
            headers = delivery.failed_headers(failure, decision.attempt, due=str(decision.due))
            metrics.record_retry(delivery.topic, failure.error_class)
        else:
            target = dead_letter_topic(route.spec).full_name(self.settings)
            headers = delivery.failed_headers(
                failure, decision.attempt, due="", traceback=failure.traceback
            )
            metrics.record_dead_letter(delivery.topic, failure.error_class)
        key = delivery.key or f"{delivery.topic}:{delivery.partition}:{delivery.offset}".encode()
        await self._produce(delivery, target, key, headers)
        log.warning(
            "message sent to=%s attempt=%d error=%s: %s",
            target,
            decision.attempt,
            failure.error_class,
            failure.message[:300],
            extra=delivery.where,
        )

    async def _produce(
        self, delivery: Delivery, target: str, key: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        """Produce and wait for the broker's acknowledgement; a broker away is waited out."""
        outages = 0
        while True:
            try:
                producer = await self.producer()
                await producer.send_and_wait(target, delivery.value, key=key, headers=headers)
            except Exception as exc:
                if not is_outage(exc) or self.stopping:
                    raise
                outages += 1
                await self._wait_out([delivery], exc, outages)
                continue
            return

    async def producer(self) -> AIOKafkaProducer:
        """The guard's producer (acks from all replicas), started on first use."""
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.settings.bootstrap_list,
                    acks="all",
                    max_request_size=self.settings.dead_letter_max_bytes,
                )
                await producer.start()
                self._producer = producer
        return self._producer

    async def close(self) -> None:
        """Flush and stop the producer."""
        self.stopping = True
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
