"""The vector store on Qdrant's local mode: collections, upsert idempotency, filtered search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from services.processor.vectors import ITEMS, TOPICS, VectorStore, qdrant_client
from streams.config import load_settings


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[VectorStore]:
    """A store in a fresh local-mode folder."""
    settings = load_settings(qdrant_path=tmp_path / "qdrant", namespace="t.")
    client = qdrant_client(settings)
    vectors = VectorStore(client, settings, dimensions=4)
    await vectors.ensure()
    await vectors.ensure()
    yield vectors
    await client.close()


def _unit(*values: float) -> list[float]:
    vector = np.array(values, dtype=float)
    return list(vector / np.linalg.norm(vector))


async def test_upsert_twice_keeps_one_point_each(store: VectorStore) -> None:
    ids = [1, 2]
    vectors = [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)]
    for _ in range(2):
        await store.upsert(ITEMS, ids, vectors, [{"ts": 1.0}, {"ts": 2.0}])
    assert await store.count(ITEMS) == 2
    assert await store.count(TOPICS) == 0
    assert store.name(ITEMS) == "t.items"


async def test_nearest_ranks_by_cosine_and_filters_by_time(store: VectorStore) -> None:
    old, new = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    await store.upsert(
        ITEMS,
        [1, 2, 3],
        [_unit(1, 0, 0, 0), _unit(0.9, 0.1, 0, 0), _unit(0, 0, 1, 0)],
        [{"ts": old.timestamp()}, {"ts": new.timestamp()}, {"ts": new.timestamp()}],
    )
    ranked = await store.nearest(ITEMS, _unit(1, 0, 0, 0), limit=3)
    assert [n.id for n in ranked] == [1, 2, 3]
    assert ranked[0].score == pytest.approx(1.0)
    recent = await store.nearest(ITEMS, _unit(1, 0, 0, 0), since=datetime(2026, 11, 10, tzinfo=UTC))
    assert [n.id for n in recent] == [2, 3]
    await store.delete(ITEMS, [2])
    assert await store.count(ITEMS) == 2
