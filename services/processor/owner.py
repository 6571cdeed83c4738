"""The cluster stage's owner: the life cycle of the one fenced writer of the stage.

One processor worker at a time holds the cluster stage: the one Kafka gave the single
partition of items.enriched. `ClusterOwner` is that worker's side of it, in five states::

    idle ----------(items.enriched assigned, or a batch asks)---------> acquiring
    acquiring -----(owner epoch bumped in PostgreSQL)-----------------> restoring
    restoring -----(saved state loaded into a new stage)--------------> owning
    owning --------(a write refused: another owner's epoch)-----------> standing down
    owning --------(a batch failed: its memory holds an unsaved batch)-> standing down
    owning --------(revoked, and the epoch moved on or is unknown)----> standing down
    owning --------(assigned elsewhere, or the epoch moved on)--------> standing down
    standing down -(memory dropped)-----------------------------------> idle

While owning, the owner is also the one writer of `trends`: every batch rescores the trends
it moves (the stage's own score function), and when the stream falls silent (no batch for a
whole activity bucket while the wall clock entered a bucket the stage's clock has not
reached) `keep_time` moves the stage's clock to the wall clock and rescores, fenced like a
batch, so silent topics cool down and go dormant. Nothing else writes `trends`.

A revocation alone keeps the memory (the partition often comes straight back): no batch
starts until the rebalance says whether it stays (`held` waits, up to `rebalance_wait_s`).
Every write of the stage goes through `fenced`, in a transaction that checks the epoch; a
returning story's archived topics are read back (revived) through it too. A server away
never raises out of the rebalance callbacks: the memory goes and the next batch takes the
stage over, waiting the outage out in place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from services.processor.pipeline import BatchResult, ClusterStage, StateChanges
from services.processor.pipeline.cluster import bucket_of
from services.processor.pipeline.steps import rescore
from streams.exceptions import TrendStreamError
from streams.messages.records import utcnow
from streams.reliability.retry import is_outage

__all__ = [
    "REBALANCE_WAIT_S",
    "ClusterOwner",
    "FencedError",
    "FencedStore",
    "OwnerState",
    "Ownership",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
REBALANCE_WAIT_S = 60.0
"""How long a cluster batch waits for a rebalance under way to say who owns the stage."""
_REMEMBERED = 32
"""Transitions kept in `ClusterOwner.transitions` (the latest ones)."""


class FencedError(TrendStreamError):
    """Another worker took the cluster stage over: this one's write was refused."""


class OwnerState(StrEnum):
    """Where a worker stands in the cluster stage's life cycle (see the module docstring)."""

    IDLE = "idle"
    ACQUIRING = "acquiring"
    RESTORING = "restoring"
    OWNING = "owning"
    STANDING_DOWN = "standing down"


class FencedStore(Protocol):
    """The owner's port on PostgreSQL: the owner epoch, the saved state, fenced writes."""

    async def acquire(self, owner: str) -> int:
        """Bump the owner epoch for `owner` and return it."""

    async def current_owner(self) -> tuple[int, str | None]:
        """The owner epoch now and who holds it ((0, None) before any owner)."""

    async def load_state(self) -> dict[str, Any] | None:
        """The stage's saved state (None before the first batch)."""

    async def load_archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of archived topics, by id."""

    async def save(self, result: BatchResult, state: StateChanges, epoch: int) -> None:
        """Write a batch and the state's changes in one transaction, while `epoch` is the
        owner epoch (else FencedError, and nothing is written)."""


StageFactory = Callable[[], Awaitable[ClusterStage]]
"""A new, empty cluster stage (its dimension is the embedder's)."""
Clock = Callable[[], float]
"""Seconds on a monotonic clock (time.perf_counter in production)."""
WallClock = Callable[[], datetime]
"""The time of day, timezone-aware (utcnow in production)."""


@dataclass(frozen=True)
class Ownership:
    """The cluster stage as this worker holds it, and the owner epoch its writes carry."""

    stage: ClusterStage
    epoch: int


class FencedStage:
    """The cluster step's port for one ownership: every save carries its epoch."""

    def __init__(self, store: FencedStore, ownership: Ownership) -> None:
        self.store = store
        self.ownership = ownership

    async def save(self, result: BatchResult) -> None:
        """Write `result` and what changed in the stage's state, fenced by the epoch; the
        changes are acknowledged only once written."""
        stage = self.ownership.stage
        state = stage.state_changes()
        await self.store.save(result, state, self.ownership.epoch)
        stage.state_saved(state)

    async def archived(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The saved states of archived topics to revive, by id."""
        return await self.store.load_archived(topic_ids)


class ClusterOwner:
    """One worker's hold on the cluster stage: takes it over, fences its writes, lets it go."""

    def __init__(
        self,
        store: FencedStore,
        new_stage: StageFactory,
        identity: str,
        *,
        clock: Clock = time.perf_counter,
        wall: WallClock = utcnow,
        rebalance_wait_s: float = REBALANCE_WAIT_S,
    ) -> None:
        self.store = store
        self.new_stage = new_stage
        self.identity = identity
        """How this worker names itself as the owner (host:pid in production)."""
        self.clock = clock
        self.wall = wall
        self.rebalance_wait_s = rebalance_wait_s
        self.state = OwnerState.IDLE
        self.transitions: deque[tuple[OwnerState, str]] = deque(maxlen=_REMEMBERED)
        """The latest states entered, each with why."""
        self.restored_in: float | None = None
        """Seconds the latest takeover took (acquire and restore)."""
        self.rules_advice: str | None = None
        """Set when the state restored was saved under other rules than this worker's."""
        self._ownership: Ownership | None = None
        self._lock = asyncio.Lock()
        """Held while the ownership is looked at or changed."""
        self._working = asyncio.Lock()
        """Held while a batch (or a rescore) runs on the stage: one at a time."""
        self._taking_over: asyncio.Task[None] | None = None
        self._worked_at = clock()
        """When (on `clock`) the latest batch on the stage ended, or the stage was taken."""
        self._assigned = False
        """Whether the latest assignment gave items.enriched to this worker."""
        self._settled = asyncio.Event()
        """Set while no rebalance is under way (cleared on revocation, set on assignment)."""

    def _enter(self, state: OwnerState, why: str) -> None:
        self.state = state
        self.transitions.append((state, why))
        log.debug("cluster stage owner state=%s why=%s", state, why)

    @property
    def ownership(self) -> Ownership | None:
        """The stage as held now, without waiting or taking it over (None: not held)."""
        return self._ownership

    async def held(self) -> Ownership | None:
        """The cluster stage if items.enriched is this worker's (taken over, epoch bumped and
        state restored, if not held yet); None when it is not. While a rebalance is under
        way, waits (up to `rebalance_wait_s`) to know whether it stays here."""
        try:
            await asyncio.wait_for(self._settled.wait(), self.rebalance_wait_s)
        except TimeoutError:
            return None
        async with self._lock:
            if not self._assigned:
                return None
            if self._ownership is None:
                self._ownership = await self._take_over()
            return self._ownership

    async def _take_over(self) -> Ownership:
        stage = await self.new_stage()
        began = self.clock()
        self._enter(OwnerState.ACQUIRING, "items.enriched is ours")
        try:
            epoch = await self.store.acquire(self.identity)
            self._enter(OwnerState.RESTORING, f"epoch {epoch}")
            saved = await self.store.load_state()
            if saved is not None:
                await asyncio.to_thread(stage.restore, saved)
        except BaseException:
            self._enter(OwnerState.IDLE, "takeover failed")
            raise
        self._worked_at = self.clock()
        self.restored_in = self._worked_at - began
        self.rules_advice = _rules_advice(stage, saved)
        if self.rules_advice:
            log.warning("cluster stage: %s", self.rules_advice)
        self._enter(OwnerState.OWNING, f"epoch {epoch}")
        log.info(
            "cluster stage taken over epoch=%d topics=%d restore_ms=%.0f",
            epoch,
            len(stage.clusterer.topics),
            self.restored_in * 1000,
        )
        return Ownership(stage, epoch)

    def fenced(self, ownership: Ownership) -> FencedStage:
        """The port through which a batch on `ownership`'s stage writes (fenced) and revives."""
        return FencedStage(self.store, ownership)

    async def run(
        self,
        ownership: Ownership,
        work: Callable[[], Awaitable[T]],
        where: Mapping[str, Any] | None = None,
    ) -> T | None:
        """Run `work` on the held stage, one at a time. A refused write (FencedError) stands
        down and gives None; any other failure stands down (the memory holds a batch not
        saved) and is raised."""
        async with self._working:
            try:
                done = await work()
            except FencedError as exc:
                log.warning("cluster stage not ours: write refused: %s", exc, extra=where)
                await self.stand_down("fenced", ownership)
                return None
            except BaseException:
                await self.stand_down("batch failed", ownership)
                raise
            self._worked_at = self.clock()
            return done

    async def keep_time(self) -> BatchResult | None:
        """When the stream fell silent (see the module docstring): the stage's clock moved to
        the wall clock and its trends rescored and saved, fenced (None: nothing to do, not
        the owner, or the write was refused)."""
        held = self._ownership
        settled = self._assigned and self._settled.is_set() and not self._working.locked()
        if held is None or held.stage.now is None or not settled:
            return None  # not the owner, nothing seen yet, a rebalance or a batch under way
        config, wall = held.stage.config, self.wall()
        quiet = self.clock() - self._worked_at >= config.bucket.total_seconds()
        if not quiet or bucket_of(wall, config) <= bucket_of(held.stage.now, config):
            return None
        fenced = self.fenced(held)
        return await self.run(
            held, lambda: rescore(held.stage, wall, fenced, offload=asyncio.to_thread)
        )

    async def on_assigned(self, holds: bool) -> None:
        """After a rebalance: take the cluster stage over at once when items.enriched came to
        this worker (keeping its memory when no one wrote since), else let the memory go.

        Never raises for a server away (Faust stops a worker whose rebalance callback
        raises): the memory goes, and the next batch takes the stage over from PostgreSQL,
        waiting the outage out in place."""
        async with self._lock:
            self._assigned = holds
            held = self._ownership
            if held is not None and holds:
                if (await self._owner_now())[0] == held.epoch:
                    self._settled.set()
                    return
                log.info("cluster stage was written by another owner since epoch=%d", held.epoch)
            self._drop("assigned elsewhere" if held and not holds else "epoch moved on")
            self._settled.set()
        if holds:  # restoring can take a while: not inside the rebalance
            self._taking_over = asyncio.create_task(self._take_over_early())

    async def _take_over_early(self) -> None:
        """Take the stage over before the first batch asks; a server away leaves it to that
        batch (which waits the outage out)."""
        try:
            await self.held()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(
                "cluster stage takeover left to the next batch error=%s: %s",
                type(exc).__name__,
                exc,
            )

    async def on_revoked(self) -> None:
        """items.enriched is being taken away: no batch starts until the rebalance says
        whether it comes back; a worker that finds the stage taken over meanwhile (it was
        paused, or cut off), or cannot tell (PostgreSQL away), lets its memory go."""
        self._settled.clear()
        async with self._lock:
            self._assigned = False
            held = self._ownership
            if held is None:
                return
            epoch, owner = await self._owner_now()
            if epoch == held.epoch:
                return
            if owner is not None:
                log.warning(
                    "cluster stage not ours: taken over by %s at epoch=%d (this worker's "
                    "epoch=%d); standing down",
                    owner,
                    epoch,
                    held.epoch,
                )
            self._drop("revoked and taken over" if owner is not None else "owner unknown")

    async def _owner_now(self) -> tuple[int, str | None]:
        """The owner epoch and owner in PostgreSQL; (-1, None) while it is away (an epoch no
        owner holds: whoever asks lets its memory go)."""
        try:
            return await self.store.current_owner()
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning("cluster stage owner unknown error=%s: %s", type(exc).__name__, exc)
            return -1, None

    async def stand_down(self, reason: str, ownership: Ownership | None = None) -> None:
        """Drop the cluster stage's memory (fenced, or a failed batch): the next batch
        continues from the state in PostgreSQL, taken over anew. With `ownership`, only if
        that is still the one held (a newer takeover is kept)."""
        async with self._lock:
            held = self._ownership
            if held is None or (ownership is not None and held is not ownership):
                return
            log.warning("cluster stage released epoch=%d reason=%s", held.epoch, reason)
            self._drop(reason)

    def _drop(self, why: str) -> None:
        """Let the memory go (caller holds the lock)."""
        if self._ownership is not None:
            self._enter(OwnerState.STANDING_DOWN, why)
            self._ownership = None
        if self.state is not OwnerState.IDLE:
            self._enter(OwnerState.IDLE, why)


def _rules_advice(stage: ClusterStage, saved: Mapping[str, Any] | None) -> str | None:
    """What to tell when the restored state was saved under other rules than the stage's."""
    if saved is None or stage.restored_rules == stage.rules:
        return None
    return (
        f"state saved under rules={stage.restored_rules or 'unknown'}, this worker's settings "
        f"give rules={stage.rules}: the topics so far are the old rules'; "
        "`trendctl topics rebuild --since 7d` shows what the new ones would make of them"
    )
