"""The cluster stage's owner: its life cycle against a fake PostgreSQL and a fake clock."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.processor.owner import ClusterOwner, FencedError, Ownership, OwnerState
from services.processor.pipeline import (
    BatchResult,
    ClusterStage,
    HashingEmbedder,
    Pipeline,
    PipelineConfig,
    StateChanges,
)
from streams.messages.records import TrendState
from tests.factories import make_item

DIMENSION = 8
T0 = datetime(2026, 11, 17, 14, 5, tzinfo=UTC)
IDLE, ACQUIRING, RESTORING, OWNING, STANDING_DOWN = OwnerState


class FakeStore:
    """The owner table, the saved state and fenced writes, in memory."""

    def __init__(self) -> None:
        self.epoch = 0
        self.owner: str | None = None
        self.state: dict[str, Any] | None = None
        self.archived: dict[str, dict[str, Any]] = {}
        self.saved: list[tuple[BatchResult, StateChanges, int]] = []
        self.away = False
        self.gate: asyncio.Event | None = None
        """When set, acquire waits for it (to see the owner mid-takeover)."""
        self.acquiring = asyncio.Event()
        """Set once acquire is called."""

    async def acquire(self, owner: str) -> int:
        self.acquiring.set()
        self._check()
        if self.gate is not None:
            await self.gate.wait()
        self.epoch, self.owner = self.epoch + 1, owner
        return self.epoch

    async def current_owner(self) -> tuple[int, str | None]:
        self._check()
        return self.epoch, self.owner

    async def load_state(self) -> dict[str, Any] | None:
        self._check()
        return self.state

    async def load_archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {topic: self.archived[topic] for topic in topic_ids if topic in self.archived}

    async def save(self, result: BatchResult, state: StateChanges, epoch: int) -> None:
        self._check()
        if epoch != self.epoch:
            raise FencedError(f"epoch {self.epoch} by {self.owner}, this writer {epoch}")
        self.saved.append((result, state, epoch))

    def taken_over(self, by: str) -> None:
        """Another worker bumps the epoch."""
        self.epoch, self.owner = self.epoch + 1, by

    def _check(self) -> None:
        if self.away:
            raise ConnectionRefusedError("PostgreSQL away")


class FakeClock:
    """Seconds that move only when a test says so (each reading moves it by `step`)."""

    def __init__(self, step: float) -> None:
        self.now = 100.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now - self.step


async def _new_stage() -> ClusterStage:
    return ClusterStage(PipelineConfig(), DIMENSION)


def _owner(store: FakeStore, **options: Any) -> ClusterOwner:
    return ClusterOwner(store, _new_stage, "worker-a:1", clock=FakeClock(0.25), **options)


def _states(owner: ClusterOwner) -> list[OwnerState]:
    return [state for state, _ in owner.transitions]


async def _holding(store: FakeStore) -> tuple[ClusterOwner, Ownership]:
    owner = _owner(store)
    await owner.on_assigned(True)
    held = await owner.held()
    assert held is not None
    return owner, held


async def test_an_assigned_worker_acquires_restores_and_owns() -> None:
    store = FakeStore()
    store.state = ClusterStage(PipelineConfig(), DIMENSION).state()
    owner = _owner(store)
    assert owner.state is IDLE
    await owner.on_assigned(True)
    held = await owner.held()
    assert held is not None and held.epoch == 1 and store.owner == "worker-a:1"
    assert owner.state is OWNING and _states(owner) == [ACQUIRING, RESTORING, OWNING]
    assert owner.restored_in == 0.25  # one step of the fake clock
    assert await owner.held() is held  # kept: no second takeover
    assert store.epoch == 1


async def test_a_state_saved_under_other_rules_is_told_with_the_rebuild(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.state = ClusterStage(replace(PipelineConfig(), join_threshold=0.7), DIMENSION).state()
    owner = _owner(store)
    logging.disable(logging.NOTSET)  # trendctl's tests turn logging off process-wide
    with caplog.at_level(logging.WARNING, logger="services.processor.owner"):
        await owner.on_assigned(True)
        held = await owner.held()
    assert held is not None and held.stage.restored_rules == store.state["rules"]
    assert owner.rules_advice is not None
    assert f"rules={held.stage.rules}" in owner.rules_advice
    assert "trendctl topics rebuild" in owner.rules_advice
    assert "trendctl topics rebuild" in caplog.text


async def test_a_state_of_the_same_rules_needs_no_advice() -> None:
    store = FakeStore()
    store.state = ClusterStage(PipelineConfig(), DIMENSION).state()
    owner = _owner(store)
    await owner.on_assigned(True)
    assert await owner.held() is not None
    assert owner.rules_advice is None


async def test_the_takeover_passes_through_acquiring_while_the_epoch_is_taken() -> None:
    store = FakeStore()
    store.gate = asyncio.Event()
    owner = _owner(store)
    await owner.on_assigned(True)  # the takeover starts in a task of its own
    await store.acquiring.wait()
    assert owner.state is ACQUIRING and owner.ownership is None
    store.gate.set()
    held = await owner.held()
    assert held is not None and owner.state is OWNING


async def test_a_worker_without_items_enriched_holds_nothing() -> None:
    store = FakeStore()
    owner = _owner(store)
    await owner.on_assigned(False)
    assert await owner.held() is None
    assert store.epoch == 0 and owner.state is IDLE


async def test_a_batch_waits_for_a_rebalance_under_way_and_gives_up_after_the_wait() -> None:
    owner = _owner(FakeStore(), rebalance_wait_s=0.01)
    assert await owner.held() is None  # never assigned: the rebalance never settled


async def test_a_refused_write_stands_down_and_the_next_batch_takes_over_anew() -> None:
    store = FakeStore()
    owner, held = await _holding(store)
    store.taken_over(by="worker-b:2")
    fenced = owner.fenced(held)
    outcome = await owner.run(held, lambda: fenced.save(BatchResult([], [], [])))
    assert outcome is None and store.saved == []
    assert owner.state is IDLE and _states(owner)[-2:] == [STANDING_DOWN, IDLE]
    store.owner = None  # worker-b left; items.enriched is still ours
    again = await owner.held()
    assert again is not None and again is not held and again.epoch == 3


async def test_a_failed_batch_is_raised_and_its_memory_dropped() -> None:
    store = FakeStore()
    owner, held = await _holding(store)

    async def failing() -> None:
        raise ValueError("a bug in the batch")

    with pytest.raises(ValueError, match="a bug"):
        await owner.run(held, failing)
    assert owner.ownership is None and owner.state is IDLE


async def test_a_fenced_save_carries_the_epoch_and_acknowledges_only_what_was_written() -> None:
    store = FakeStore()
    owner, held = await _holding(store)
    fenced = owner.fenced(held)
    held.stage.process([])
    await fenced.save(BatchResult([], [], []))
    [(_, state, epoch)] = store.saved
    assert epoch == held.epoch and state.head["documents"] == 0
    store.away = True
    with pytest.raises(ConnectionRefusedError):
        await fenced.save(BatchResult([], [], []))
    assert len(store.saved) == 1


async def test_a_partition_that_comes_straight_back_keeps_the_memory() -> None:
    store = FakeStore()
    owner, held = await _holding(store)
    await owner.on_revoked()
    await owner.on_assigned(True)
    assert await owner.held() is held and store.epoch == 1


async def test_a_revoked_owner_whose_stage_was_taken_over_stands_down() -> None:
    store = FakeStore()
    owner, _ = await _holding(store)
    await owner.on_revoked()
    store.taken_over(by="worker-b:2")
    await owner.on_revoked()
    assert owner.ownership is None and owner.state is IDLE


async def test_postgresql_away_in_a_rebalance_drops_the_memory_without_raising() -> None:
    store = FakeStore()
    owner, _ = await _holding(store)
    store.away, store.acquiring = True, asyncio.Event()
    await owner.on_revoked()
    assert owner.ownership is None
    await owner.on_assigned(True)  # the early takeover meets the outage: left to a batch
    await store.acquiring.wait()
    assert owner.ownership is None and owner.state is IDLE
    store.away = False
    held = await owner.held()
    assert held is not None and held.epoch == 2


async def test_an_archived_topic_is_read_back_through_the_fenced_port() -> None:
    store = FakeStore()
    store.archived = {"t1": {"topic_id": "t1"}}
    owner, held = await _holding(store)
    assert await owner.fenced(held).archived(["t1", "t2"]) == {"t1": {"topic_id": "t1"}}


async def test_a_silent_stream_is_rescored_by_the_owner_once_a_bucket_passed() -> None:
    store, clock = FakeStore(), FakeClock(0.0)
    wall = [T0 + timedelta(minutes=30)]
    owner = ClusterOwner(store, _new_stage, "worker-a:1", clock=clock, wall=lambda: wall[0])
    assert await owner.keep_time() is None  # not the owner
    await owner.on_assigned(True)
    held = await owner.held()
    assert held is not None
    held.stage.now = T0
    assert await owner.keep_time() is None  # same bucket, and batches came lately
    wall[0] = T0 + timedelta(hours=3)
    assert await owner.keep_time() is None  # a new bucket, but a batch ran within the bucket
    clock.now += timedelta(hours=1).total_seconds()
    result = await owner.keep_time()
    assert result is not None and held.stage.now == wall[0]
    assert [(saved, epoch) for saved, _, epoch in store.saved] == [(result, held.epoch)]
    assert await owner.keep_time() is None  # the stage's clock caught up


async def test_the_owner_lets_the_topics_of_a_silent_stream_go_dormant() -> None:
    pipeline = Pipeline(PipelineConfig(), HashingEmbedder())
    titles = ["Nimbus Cloud outage takes down us-east apps", "Nimbus Cloud outage hits banks"]
    items = [make_item(title=f"{t} {n}", published_at=T0) for n in range(3) for t in titles]
    [trend] = pipeline.process(items).trends
    assert trend.state is not TrendState.DORMANT

    async def filled() -> ClusterStage:
        return pipeline.cluster

    store, clock = FakeStore(), FakeClock(0.0)
    wall = T0 + timedelta(hours=30)  # past a day of silence (dormant), not yet archived
    owner = ClusterOwner(store, filled, "worker-a:1", clock=clock, wall=lambda: wall)
    await owner.on_assigned(True)
    assert await owner.held() is not None
    clock.now += timedelta(hours=1).total_seconds()
    result = await owner.keep_time()
    assert result is not None
    [later] = [t for t in result.trends if t.topic_id == trend.topic_id]
    assert (later.state, later.previous_state) == (TrendState.DORMANT, trend.state)
