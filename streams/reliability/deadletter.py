"""Dead letters: list, show, redrive and purge the messages of the `<topic>.dlq` topics."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete

from streams.config import Settings
from streams.exceptions import TrendStreamError
from streams.messages.delivery import HEADER, Delivery
from streams.messages.topics import CATALOG, DEAD_LETTER_TOPICS

__all__ = [
    "MAX_IDS",
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetterFilterError",
    "DeadLetterNotFoundError",
    "DeadLetters",
]

MARKER = HEADER + "marker"
"""Header of the records that mark a dead letter as redriven or purged (they carry no value)."""
TARGET = HEADER + "target"
DROPPED_ON_REDRIVE = ("attempt", "due", "traceback", "marker", "target")
READ_TIMEOUT_S = 30.0
MAX_IDS = 10_000
"""The most dead-letter ids one filter may name."""
LATEST_TIME = 253402300799.0
"""9999-12-31T23:59:59Z: the latest time a filter may name (epoch seconds)."""
_ID = re.compile(r"^(?P<dlq>[A-Za-z0-9._-]{1,200}):(?P<partition>\d{1,9}):(?P<offset>\d{1,19})$")
_ERROR_CLASS = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
_ORIGINALS = tuple(spec.name.removesuffix(".dlq") for spec in DEAD_LETTER_TOPICS)
"""The catalog topics that have a dead-letter topic."""


class DeadLetterNotFoundError(TrendStreamError):
    """No active dead letter has this id."""


class DeadLetterFilterError(TrendStreamError):
    """A filter condition no dead letter could meet, or of the wrong form; names the field."""


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter topic, with why and where it failed."""

    id: str
    """`<dead-letter topic>:<partition>:<offset>`, catalog name (no namespace)."""
    topic: str
    """The catalog name of the topic it was read from, e.g. `collect.requests`."""
    delivery: Delivery
    dead_at: float

    @property
    def error_class(self) -> str:
        """The class of the last error."""
        return self.delivery.text("error-class")

    def describe(self) -> dict[str, Any]:
        """Everything known about this dead letter, for views and the CLI."""
        d = self.delivery
        return {
            "id": self.id,
            "topic": self.topic,
            "key": d.key_text,
            "error_class": self.error_class,
            "error_message": d.text("error-message"),
            "traceback": d.text("traceback"),
            "attempts": d.attempt,
            "original": {"topic": d.topic, "partition": d.partition, "offset": d.offset},
            "original_timestamp": d.timestamp,
            "first_failure": float(d.text("first-failure") or 0),
            "dead_at": self.dead_at,
            "history": d.history,
            "redrives": int(d.text("redrives") or 0),
            "value_bytes": len(d.value or b""),
        }


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters an operation applies to (every given condition must hold)."""

    topic: str | None = None
    """Catalog name of the original topic, e.g. `items.raw`."""
    error_class: str | None = None
    since: float | None = None
    until: float | None = None
    ids: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def checked(
        cls,
        *,
        topic: str | None = None,
        error_class: str | None = None,
        since: float | None = None,
        until: float | None = None,
        ids: Iterable[str] = (),
        now: float | None = None,
    ) -> DeadLetterFilter:
        """The filter of every door (the dashboard, `trendctl dlq`), each condition checked:
        `topic` a catalog topic with dead letters (`.dlq` may be added), `error_class` a class
        name, `since` and `until` finite epoch seconds from 1970 (`since` not in the future,
        `until` before year 10000, `since` not after `until`), `ids` at most MAX_IDS of the form
        `<topic>.dlq:<partition>:<offset>`. DeadLetterFilterError naming the field otherwise.
        """
        if error_class is not None and not _ERROR_CLASS.match(error_class):
            raise DeadLetterFilterError(
                f"error_class: expected an error's class name (e.g. RecordValidationError), "
                f"got {_shown(error_class)}"
            )
        start = _time("since", since, latest=time.time() if now is None else now)
        end = _time("until", until, latest=LATEST_TIME)
        if start is not None and end is not None and start > end:
            raise DeadLetterFilterError(f"since ({start}) is after until ({end})")
        return cls(
            topic=_topic(topic) if topic is not None else None,
            error_class=error_class,
            since=start,
            until=end,
            ids=_ids(ids),
        )

    def matches(self, letter: DeadLetter) -> bool:
        """True when the dead letter meets every condition."""
        return (
            (self.topic is None or letter.topic == self.topic)
            and (self.error_class is None or letter.error_class == self.error_class)
            and (self.since is None or letter.dead_at >= self.since)
            and (self.until is None or letter.dead_at <= self.until)
            and (not self.ids or letter.id in self.ids)
        )


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(value):,} characters)"


def _topic(name: str) -> str:
    plain = name.removesuffix(".dlq")
    if plain in _ORIGINALS:
        return plain
    choices = ", ".join(_ORIGINALS)
    if any(spec.name == plain for spec in CATALOG):
        raise DeadLetterFilterError(
            f"topic: {_shown(name)} has no dead-letter topic (topics with dead letters: {choices})"
        )
    raise DeadLetterFilterError(
        f"topic: {_shown(name)} is not a catalog topic (topics with dead letters: {choices})"
    )


def _time(field_name: str, value: float | None, latest: float) -> float | None:
    """A time of the filter: finite, from 1970 and not after `latest`."""
    if value is None:
        return None
    if not math.isfinite(value) or not 0 <= value <= LATEST_TIME:
        raise DeadLetterFilterError(
            f"{field_name}: expected epoch seconds from 0 to {LATEST_TIME:.0f} (year 9999), "
            f"got {value}"
        )
    if value > latest:
        raise DeadLetterFilterError(
            f"{field_name}: {value} is in the future (now: {latest:.0f}); no dead letter is "
            "that recent"
        )
    return float(value)


def _ids(ids: Iterable[str]) -> frozenset[str]:
    found = frozenset(ids)
    if len(found) > MAX_IDS:
        raise DeadLetterFilterError(f"ids: at most {MAX_IDS:,} dead-letter ids, got {len(found):,}")
    for letter_id in sorted(found):
        match = _ID.match(letter_id)
        dlq = match["dlq"] if match else ""
        if not dlq.endswith(".dlq") or dlq.removesuffix(".dlq") not in _ORIGINALS:
            raise DeadLetterFilterError(
                f"ids: {_shown(letter_id)} is not a dead-letter id: expected "
                "<topic>.dlq:<partition>:<offset>, e.g. collect.requests.dlq:0:5"
            )
    return found


class DeadLetters:
    """The dead-letter topics of one environment (NAMESPACE); every operation is idempotent."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.specs = {spec.full_name(settings): spec for spec in DEAD_LETTER_TOPICS}

    async def entries(self, where: DeadLetterFilter | None = None) -> list[DeadLetter]:
        """The active dead letters (not redriven, not purged), oldest first."""
        letters, handled = await self._read()
        active = [letter for letter in letters if letter.id not in handled]
        return [letter for letter in active if where is None or where.matches(letter)]

    async def summary(self) -> dict[str, dict[str, int]]:
        """Counts of active dead letters per original topic and error class."""
        counts: dict[str, Counter[str]] = {}
        for letter in await self.entries():
            counts.setdefault(letter.topic, Counter())[letter.error_class] += 1
        return {topic: dict(by_error) for topic, by_error in counts.items()}

    async def show(self, letter_id: str) -> DeadLetter:
        """One active dead letter; DeadLetterNotFoundError when there is none with this id."""
        found = await self.entries(DeadLetterFilter(ids=frozenset({letter_id})))
        if not found:
            raise DeadLetterNotFoundError(f"no active dead letter with id {letter_id!r}")
        return found[0]

    async def redrive(self, where: DeadLetterFilter) -> list[str]:
        """Send the matching dead letters back to their original topic; return their ids."""
        letters = await self.entries(where)
        async with self._producer() as producer:
            for letter in letters:
                await producer.send_and_wait(
                    letter.delivery.topic,
                    letter.delivery.value,
                    key=letter.delivery.key,
                    headers=_redrive_headers(letter),
                )
                await self._mark(producer, letter, "redriven")
        return [letter.id for letter in letters]

    async def purge(self, where: DeadLetterFilter) -> list[str]:
        """Drop the matching dead letters; a topic left with none is truncated on the broker."""
        letters = await self.entries(where)
        async with self._producer() as producer:
            for letter in letters:
                await self._mark(producer, letter, "purged")
        await self._truncate_empty()
        return [letter.id for letter in letters]

    async def _mark(self, producer: AIOKafkaProducer, letter: DeadLetter, action: str) -> None:
        dlq, partition, _ = letter.id.rsplit(":", 2)
        headers = [(MARKER, action.encode()), (TARGET, letter.id.encode())]
        await producer.send_and_wait(
            self.settings.namespace + dlq,
            None,
            key=letter.id.encode(),
            partition=int(partition),
            headers=headers,
        )

    async def _truncate_empty(self) -> None:
        letters, handled = await self._read()
        busy = {letter.id.rsplit(":", 2)[0] for letter in letters if letter.id not in handled}
        ends = await self._ends()
        empty = {
            tp: RecordsToDelete(offset)
            for tp, offset in ends.items()
            if offset and self.specs[tp.topic].name not in busy
        }
        if empty:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap_list)
            await admin.start()
            try:
                await admin.delete_records(empty)
            finally:
                await admin.close()

    async def _read(self) -> tuple[list[DeadLetter], set[str]]:
        """Every dead letter on the broker, and the ids marked redriven or purged."""
        consumer = await self._consumer()
        try:
            ends = await consumer.end_offsets(list(consumer.assignment()))
            records = await _read_to(consumer, ends)
        finally:
            await consumer.stop()
        letters, handled = [], set()
        for record in records:
            headers = dict(record.headers or ())
            if MARKER in headers:
                handled.add(headers.get(TARGET, b"").decode())
            else:
                letters.append(self._letter(record))
        return letters, handled

    def _letter(self, record: Any) -> DeadLetter:
        spec = self.specs[record.topic]
        original = spec.name.removesuffix(".dlq")
        return DeadLetter(
            id=f"{spec.name}:{record.partition}:{record.offset}",
            topic=original,
            delivery=Delivery.of_message(record).handed_back(record.topic),
            dead_at=record.timestamp / 1000,
        )

    async def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_list,
            enable_auto_commit=False,
            max_partition_fetch_bytes=self.settings.dead_letter_max_bytes,
        )
        await consumer.start()
        existing = await consumer.topics()
        partitions = [
            TopicPartition(name, p)
            for name, spec in self.specs.items()
            if name in existing
            for p in range(spec.partition_count(self.settings))
        ]
        consumer.assign(partitions)
        if partitions:
            await consumer.seek_to_beginning(*partitions)
        return consumer

    async def _ends(self) -> dict[TopicPartition, int]:
        consumer = await self._consumer()
        try:
            ends: dict[TopicPartition, int] = await consumer.end_offsets(
                list(consumer.assignment())
            )
            return ends
        finally:
            await consumer.stop()

    def _producer(self) -> _Producer:
        return _Producer(self.settings)


class _Producer:
    """An idempotent producer for one operation (async context manager)."""

    def __init__(self, settings: Settings) -> None:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_list,
            acks="all",
            max_request_size=settings.dead_letter_max_bytes,
        )

    async def __aenter__(self) -> AIOKafkaProducer:
        await self.producer.start()
        return self.producer

    async def __aexit__(self, *exc_info: object) -> None:
        await self.producer.stop()


async def _read_to(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[Any]:
    """Every record before `ends`, in offset order per partition."""
    records: list[Any] = []
    deadline = time.monotonic() + READ_TIMEOUT_S
    while await _behind(consumer, ends):
        if time.monotonic() > deadline:
            raise TimeoutError("dead-letter topics could not be read to their end")
        batch = await consumer.getmany(timeout_ms=500)
        for part in batch.values():
            records.extend(part)
        await asyncio.sleep(0)
    return records


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _redrive_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """The dead letter's headers for its next round: history kept, attempts from zero."""
    dropped = {HEADER + name for name in DROPPED_ON_REDRIVE}
    headers = [(k, v) for k, v in letter.delivery.headers.items() if k not in dropped]
    redrives = int(letter.delivery.text("redrives") or 0) + 1
    headers = [(k, v) for k, v in headers if k != HEADER + "redrives"]
    return [
        *headers,
        (HEADER + "redrives", str(redrives).encode()),
        (HEADER + "redriven-from", letter.id.encode()),
    ]
