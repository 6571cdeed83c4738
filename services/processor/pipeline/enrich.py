"""The enrich stage: what an item says on its own (clean text, language, names, embedding)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import (
    Embedder,
    Vectors,
    model_source,
    pack_vector,
    unpack_vector,
)
from services.processor.pipeline.entities import EntityExtractor, load_vocabulary
from services.processor.pipeline.normalize import Dropped, NormalizedItem, normalize
from streams.messages.items import embedding_text
from streams.messages.records import EnrichedItem, RawItem

__all__ = ["Enriched", "Enricher", "model_folder"]


@dataclass(frozen=True, slots=True)
class Enriched:
    """An item as the cluster stage needs it: nothing here depends on other items."""

    item_id: str
    title: str
    at: datetime
    language: str
    entities: tuple[str, ...] = ()
    """Entity keys found in the item (case-folded names), in order of appearance."""
    names: tuple[str, ...] = ()
    """The entities written as proper names (see EntityExtractor.extract_names)."""
    vector: Vectors | None = field(default=None, repr=False, compare=False)
    """The unit-length embedding; None for an exact duplicate."""
    duplicate_of: str | None = None
    """The item this one repeats exactly (same normalised content), if any."""
    score: int | None = None
    comments: int | None = None

    def to_record(self, request_id: str | None = None, *, new: bool = True) -> EnrichedItem:
        """The message on items.enriched."""
        return EnrichedItem(
            key=self.item_id,
            at=self.at,
            title=self.title,
            language=self.language,
            score=self.score,
            comments=self.comments,
            vector=pack_vector(self.vector) if self.vector is not None else None,
            entities=list(self.entities),
            names=list(self.names),
            duplicate_of=self.duplicate_of,
            request_id=request_id,
            new=new,
        )

    @classmethod
    def from_record(cls, record: EnrichedItem) -> Enriched:
        """The item carried by a message of items.enriched."""
        return cls(
            item_id=record.key,
            title=record.title,
            at=record.at,
            language=record.language or "und",
            entities=tuple(record.entities),
            names=tuple(record.names),
            vector=unpack_vector(record.vector) if record.vector else None,
            duplicate_of=record.duplicate_of,
            score=record.score,
            comments=record.comments,
        )


def model_folder(config: PipelineConfig) -> Path:
    """The folder of the embedding model's vocab.txt (the common-word list): the model's own,
    or with the onnx backend its export's (a copy: no model package needed there)."""
    if config.embedding_backend == "onnx" and config.onnx_path:
        return Path(config.onnx_path)
    return model_source(config.model_path)


class Enricher:
    """Normalises items and finds their names and embeddings; keeps nothing between batches,
    so any number of workers can enrich side by side and agree."""

    def __init__(self, config: PipelineConfig, embedder: Embedder) -> None:
        self.config = config
        self.embedder = embedder
        vocabulary = load_vocabulary(model_folder(config) / "vocab.txt")
        self.extractor = EntityExtractor(vocabulary, config.rare_terms)

    def normalize(self, items: Sequence[RawItem]) -> tuple[list[NormalizedItem], list[Dropped]]:
        """The items' clean forms in time order, and the items dropped (with why)."""
        normalized = [normalize(item, self.config.language_sample_chars) for item in items]
        kept = [entry for entry in normalized if isinstance(entry, NormalizedItem)]
        dropped = [entry for entry in normalized if isinstance(entry, Dropped)]
        return sorted(kept, key=_time), dropped

    def enrich(
        self, items: Sequence[NormalizedItem], originals: Sequence[str | None] | None = None
    ) -> list[Enriched]:
        """Names and embeddings of the items (one encode call for the batch); an item whose
        entry in `originals` (aligned with `items`) names another item repeats it exactly and
        is not embedded."""
        repeats = list(originals) if originals is not None else [None] * len(items)
        fresh = [item for item, original in zip(items, repeats, strict=True) if original is None]
        limit = self.config.embed_max_chars
        texts = [embedding_text(item.title, item.text, limit) for item in fresh]
        matrix = np.asarray(self.embedder.encode(texts), dtype=np.float32)
        rows = iter(matrix.reshape(len(texts), self.embedder.dimension))
        found = [self.extractor.extract_names(item.content) for item in items]
        return [
            Enriched(
                item_id=item.item_id,
                title=item.title,
                at=item.at,
                language=item.language,
                entities=tuple(entities),
                names=tuple(names),
                vector=next(rows) if original is None else None,
                duplicate_of=original,
                score=item.score,
                comments=item.comments,
            )
            for item, original, (entities, names) in zip(items, repeats, found, strict=True)
        ]


def _time(item: NormalizedItem) -> datetime:
    return item.at
