"""The processing jobs' own work: vectors regenerated exactly as the enrich stage made them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from services.processor import handlers
from services.processor.pipeline import PipelineConfig
from services.processor.pipeline.embed import HashingEmbedder
from services.processor.pipeline.enrich import Enricher
from services.processor.vectors import ITEMS
from streams.messages.items import ROW_COLUMNS, item_row, vector_payload
from streams.messages.records import RawItem
from tests.factories import make_item


class _Vectors:
    def __init__(self) -> None:
        self.points: dict[int | str, tuple[list[float], dict[str, Any]]] = {}

    async def upsert(
        self,
        collection: str,
        ids: Sequence[int | str],
        vectors: Sequence[Sequence[float]],
        payloads: Sequence[dict[str, Any]],
    ) -> None:
        assert collection == ITEMS
        for point, vector, payload in zip(ids, vectors, payloads, strict=True):
            self.points[point] = (list(vector), payload)


class _Items:
    def __init__(self) -> None:
        self.marked: list[int] = []

    async def mark_vectors(self, ids: Sequence[int]) -> None:
        self.marked += ids


class _Resources:
    """What generate_embeddings uses of a processor's resources."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self._enricher = Enricher(config, HashingEmbedder())
        self._vectors, self._items = _Vectors(), _Items()

    async def enricher(self) -> Enricher:
        return self._enricher

    async def vectors(self) -> _Vectors:
        return self._vectors

    async def items(self) -> _Items:
        return self._items


def _stored(row_id: int, item: RawItem) -> dict[str, Any]:
    """The row generate_embeddings reads back (the SELECT of ROW_SELECT, with its id)."""
    columns = dict(zip((c for c, _ in ROW_COLUMNS), item_row(item, "hash"), strict=True))
    columns["text"] = columns.pop("body")
    return {"id": row_id, **columns}


async def test_a_regenerated_vector_is_the_one_the_enrich_stage_made() -> None:
    config = PipelineConfig(embed_max_chars=60)
    resources = _Resources(config)
    items = [
        make_item(title="Nimbus <i>outage</i> hits Europe", text="Storage down. " * 30),
        make_item(title="Port strike", text="Port strike enters its third day in Rotterdam"),
    ]
    kept, _ = resources._enricher.normalize(items)
    enriched = {e.item_id: e for e in resources._enricher.enrich(kept)}
    rows = [_stored(10, items[0]), _stored(11, items[1])]
    await handlers._embed_rows(resources, rows)  # type: ignore[arg-type]
    assert sorted(resources._items.marked) == [10, 11]
    for row_id, item in ((10, items[0]), (11, items[1])):
        vector, payload = resources._vectors.points[row_id]
        original = enriched[item.key]
        assert original.vector is not None
        assert np.allclose(vector, original.vector, atol=1e-6)
        assert payload == vector_payload(item.key, original.at)
