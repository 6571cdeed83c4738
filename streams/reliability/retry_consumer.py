"""The consumer of retry topics: each partition is held until its head message is due."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.config import Settings
from streams.messages.delivery import Delivery
from streams.messages.topics import RETRY_LEVELS, retry_topic
from streams.reliability.retry import Guard, Handler

__all__ = ["RetryConsumer", "install", "run_quietly"]

log = logging.getLogger(__name__)
IDLE_WAIT_MS = 1_000


class RetryConsumer:
    """Hands retried messages back to their topic's handler once due.

    A partition whose head message is not due yet is paused (and its position set back to
    that message) until the due time; other partitions and the main topics keep flowing.
    """

    def __init__(
        self, settings: Settings, guard: Guard, group_id: str, handlers: dict[str, Handler]
    ) -> None:
        self.settings = settings
        self.guard = guard
        self.group_id = group_id
        self.handlers = handlers
        """Handler of each guarded topic (full name)."""
        self.origins = {
            retry_topic(guard.route(name).spec, level).full_name(settings): name
            for name in handlers
            for level in range(1, RETRY_LEVELS + 1)
        }
        """The guarded topic each retry topic serves (full names)."""
        self.held: dict[TopicPartition, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._stopped = asyncio.Event()

    def topics(self) -> list[str]:
        """The retry topics (full names) of every guarded topic with a handler."""
        return list(self.origins)

    async def run(self) -> None:
        """Consume until stop(); meant to run as a task of the worker."""
        consumer = AIOKafkaConsumer(
            *self.topics(),
            bootstrap_servers=self.settings.bootstrap_list,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self.settings.dead_letter_max_bytes,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            while not self._stopped.is_set():
                await self._poll(consumer)
        finally:
            self._consumer = None
            await consumer.stop()

    async def stop(self) -> None:
        """End run() after the message at hand."""
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stopped.is_set()

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        self._resume_due(consumer)
        batches = await consumer.getmany(timeout_ms=self._wait_ms(), max_records=50)
        for tp, records in batches.items():
            await self._drain(consumer, tp, records)

    def _wait_ms(self) -> int:
        if not self.held:
            return IDLE_WAIT_MS
        soonest = min(self.held.values()) - time.time()
        return max(10, min(IDLE_WAIT_MS, int(soonest * 1000) + 1))

    def _resume_due(self, consumer: AIOKafkaConsumer) -> None:
        now, assigned = time.time(), consumer.assignment()
        for tp, due in list(self.held.items()):
            if due <= now or tp not in assigned:
                del self.held[tp]
                if tp in assigned:
                    consumer.resume(tp)

    async def _drain(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        for record in records:
            delivery = Delivery.of_message(record).handed_back(tp.topic, self.origins[tp.topic])
            if delivery.due > time.time():
                self._hold(consumer, tp, record.offset, delivery.due)
                return
            await self._hand_back(delivery)
            await consumer.commit({tp: record.offset + 1})

    def _hold(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, due: float
    ) -> None:
        consumer.pause(tp)
        consumer.seek(tp, offset)
        self.held[tp] = due
        log.debug(
            "retry partition held until=%.3f", due, extra={"topic": tp.topic, "offset": offset}
        )

    async def _hand_back(self, delivery: Delivery) -> None:
        """To the handler of the topic its retry topic serves, whatever its headers say (a
        message put there by hand has none): a poison message is dead-lettered there."""
        log.info("retry due attempt=%d", delivery.attempt, extra=delivery.where)
        await self.guard.handle([delivery], self.handlers[delivery.topic])


async def run_quietly(consumer: RetryConsumer, pause_s: float = 2.0) -> None:
    """Run a retry consumer until its worker stops; a failure (the broker away) restarts it.

    Faust stops the whole app when a task raises, so nothing escapes from here.
    """
    with contextlib.suppress(asyncio.CancelledError):
        while not consumer.stopped:
            try:
                await consumer.run()
            except Exception:
                log.exception("retry consumer failed; restarting in %.0f s", pause_s)
                await asyncio.sleep(pause_s)


def install(app: Any, guard: Guard, handlers: dict[str, Handler]) -> RetryConsumer:
    """Run a retry consumer for these handlers as a task of `app`; stop it with the worker."""
    consumer = RetryConsumer(app.settings, guard, f"{app.conf.id}.retry", handlers)

    async def retries() -> None:
        await run_quietly(consumer)

    async def stop(sender: Any, **kwargs: Any) -> None:
        await consumer.stop()

    app.task(retries)
    app.on_before_shutdown.connect(stop)
    return consumer
