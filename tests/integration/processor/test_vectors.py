"""The vector store on Qdrant's local mode: its one collection, upsert idempotency, deletion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from services.processor.vectors import ITEMS, VectorStore, qdrant_client
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
    assert store.name(ITEMS) == "t.items"
    names = {c.name for c in (await store.client.get_collections()).collections}
    assert names == {"t.items"}  # no collection that nothing writes


async def test_local_mode_journals_ahead_and_keeps_points_across_a_reopen(
    tmp_path: Path,
) -> None:
    settings = load_settings(qdrant_path=tmp_path / "qdrant", namespace="t.")
    client = qdrant_client(settings)
    store = VectorStore(client, settings, dimensions=4)
    assert await store.ensure() == "wal"
    await store.upsert(ITEMS, [1, 2], [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0)], [{}, {}])
    await client.close()
    reopened = qdrant_client(settings)
    again = VectorStore(reopened, settings, dimensions=4)
    assert await again.ensure() == "wal"
    assert await again.count(ITEMS) == 2
    await reopened.close()


_WRITER = """
import asyncio, sys
from services.processor.vectors import ITEMS, VectorStore, qdrant_client
from streams.config import load_settings

async def main() -> None:
    settings = load_settings(qdrant_path=sys.argv[1], namespace="t.")
    store = VectorStore(qdrant_client(settings), settings, dimensions=4)
    await store.ensure()
    await store.upsert(ITEMS, list(range(1, 51)), [[1.0, 0, 0, 0]] * 50, [{}] * 50)
    print("written", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def _write_then_kill_9(folder: Path) -> str:
    """Run _WRITER on a local-mode folder and kill -9 it once it says its upsert returned."""
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        return writer.stdout.readline().strip()
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)


async def test_points_written_survive_a_kill_9_of_the_writer(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    assert _write_then_kill_9(folder) == "written"
    settings = load_settings(qdrant_path=folder, namespace="t.")
    client = qdrant_client(settings)
    store = VectorStore(client, settings, dimensions=4)
    await store.ensure()
    assert await store.count(ITEMS) == 50
    await client.close()


async def test_deleted_points_are_gone_and_the_others_kept(store: VectorStore) -> None:
    vectors = [_unit(1, 0, 0, 0), _unit(0, 1, 0, 0), _unit(0, 0, 1, 0)]
    await store.upsert(ITEMS, [1, 2, 3], vectors, [{"ts": 1.0}] * 3)
    await store.delete(ITEMS, [2])
    await store.delete(ITEMS, [])
    assert await store.count(ITEMS) == 2
    kept = await store.client.retrieve(store.name(ITEMS), [1, 2, 3])
    assert sorted(int(point.id) for point in kept) == [1, 3]
