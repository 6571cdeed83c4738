"""A client for any Python program: trigger a request and wait for its result (like AsyncResult)."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.config import Settings
from streams.exceptions import RecordValidationError, TrendStreamError
from streams.records import CollectRequest, RequestStatus
from streams.topics import COLLECT_REQUESTS, COLLECT_REQUESTS_PRIORITY, COLLECT_RESULTS

__all__ = ["RequestClient", "RequestTimeoutError", "run_request"]


class RequestTimeoutError(TrendStreamError):
    """No final status arrived for a request within the time asked for."""


class RequestClient:
    """Produces triggers to collect.requests and reads their statuses from collect.results."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all")
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_list, enable_auto_commit=False
        )

    async def __aenter__(self) -> RequestClient:
        try:
            await self._producer.start()
            await self._consumer.start()
            await self._follow_results()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()
        await self._consumer.stop()

    async def _follow_results(self) -> None:
        """Read collect.results from its current end: only statuses published from now on."""
        topic = COLLECT_RESULTS.full_name(self.settings)
        if topic not in await self._consumer.topics():
            raise TrendStreamError(f"topic {topic} does not exist: run `scripts/stack up` first")
        partitions = await self._producer.partitions_for(topic)
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the end offsets now, before any trigger is sent
            await self._consumer.position(tp)

    async def trigger(self, request: CollectRequest) -> str:
        """Send a request (urgent ones, priority >= 5, to the priority topic); return its id."""
        spec = COLLECT_REQUESTS_PRIORITY if request.priority >= 5 else COLLECT_REQUESTS
        await self._producer.send_and_wait(
            spec.full_name(self.settings), request.dumps(), key=request.request_id.encode()
        )
        return request.request_id

    async def wait(self, request_id: str, timeout: float = 30.0) -> RequestStatus:
        """Block until the request reaches SUCCESS, FAILURE or REVOKED; return that status."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            batches = await self._consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            for record in (r for batch in batches.values() for r in batch):
                status = _status(record.value)
                if status and status.request_id == request_id and status.state.is_final:
                    return status
        raise RequestTimeoutError(f"no result for request {request_id} within {timeout:.0f}s")


def _status(payload: bytes | None) -> RequestStatus | None:
    try:
        return RequestStatus.parse(payload)
    except RecordValidationError:
        return None


async def run_request(
    settings: Settings, request: CollectRequest, timeout: float = 30.0
) -> RequestStatus:
    """Trigger one request and wait for its result."""
    async with RequestClient(settings) as client:
        await client.trigger(request)
        return await asyncio.wait_for(client.wait(request.request_id, timeout), timeout + 5)
