"""The evaluation command on a small corpus in the documented format (id, story, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.processor.evaluate import (
    CachedEmbedder,
    Enrichments,
    evaluate,
    load,
    main,
    nearest_centroid,
    sweep,
)
from services.processor.pipeline import HashingEmbedder, PipelineConfig, load_embedder

LINES = [
    ("1", "outage", "Nimbus Cloud outage takes down object storage in Virginia"),
    ("2", "outage", "Nimbus Cloud says the Virginia storage outage is over"),
    ("3", "outage", "Postmortem: a bad DNS push caused the Nimbus Cloud outage"),
    ("4", "rates", "Bank of Eldoria cuts its policy rate by 25 basis points"),
    ("5", "rates", "Eldoria's central bank lowers rates, markets rally"),
    ("6", "rates", "Bank of Eldoria governor explains the quarter-point cut"),
    ("7", "noise-1", "My sourdough starter finally doubled overnight"),
]


def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    rows = [
        {
            "id": ident,
            "story": story,
            "source": "rss",
            "title": title,
            "text": "",
            "published_at": f"2026-11-18T{int(ident):02d}:00:00Z",
            "score": None,
            "comments": None,
        }
        for ident, story, title in LINES
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return path


def test_the_documented_format_loads(tmp_path: Path) -> None:
    corpus = load(_corpus(tmp_path))
    assert [(e.item.source_id, e.story) for e in corpus][:2] == [("1", "outage"), ("2", "outage")]


def test_the_command_prints_the_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(_corpus(tmp_path)), "--no-sweep"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("purity 1.0000  ARI 1.0000  B-cubed P 1.0000 R 1.0000 F1 1.0000")
    assert "pairwise P 1.0000 R 1.0000 F1 1.0000" in out
    assert "2 topics:" in out
    assert "nearest centroid (cosine >= 0.45): purity" in out


def test_the_sweep_moves_one_setting_at_a_time(tmp_path: Path) -> None:
    corpus = load(_corpus(tmp_path))
    embedder = CachedEmbedder(load_embedder())
    config = PipelineConfig()
    swept = sweep(corpus, config, embedder, names=["join_threshold"], factors=(0.9, 1.1))
    assert set(swept) == {"join_threshold"}
    assert set(swept["join_threshold"]) == {0.9, 1.1}
    assert all(0.0 <= ari <= 1.0 for ari in swept["join_threshold"].values())


def test_plain_nearest_centroid_groups_by_cosine_alone(tmp_path: Path) -> None:
    corpus = load(_corpus(tmp_path))
    embedder = CachedEmbedder(load_embedder())
    everything = nearest_centroid(corpus, embedder, threshold=-1.0, min_size=1)
    assert everything.bcubed.recall == 1.0
    assert everything.purity == pytest.approx(3 / 7)
    alone = nearest_centroid(corpus, embedder, threshold=1.01)
    assert (alone.bcubed.precision, alone.pairwise.recall) == (1.0, 0.0)


def test_the_embedder_cache_encodes_each_text_once() -> None:
    class Counting:
        dimension = 2

        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def encode(self, texts: list[str]) -> np.ndarray:
            self.calls.append(texts)
            return np.ones((len(texts), 2), dtype=np.float32)

    inner = Counting()
    cached = CachedEmbedder(inner)
    assert cached.encode(["a", "b", "a"]).shape == (3, 2)
    assert cached.encode(["b", "c"]).shape == (2, 2)
    assert inner.calls == [["a", "b"], ["c"]]
    assert cached.encode([]).shape == (0, 2)


def test_the_embedder_store_keeps_vectors_across_runs_and_writers(tmp_path: Path) -> None:
    store = tmp_path / "vectors.npz"
    first = CachedEmbedder(HashingEmbedder(), store)
    second = CachedEmbedder(HashingEmbedder(), store)
    expected = first.encode(["alpha beta", "gamma"])
    first.save()
    second.encode(["delta"])
    second.save()  # adds to the file: another writer's vectors stay
    inner = HashingEmbedder()
    again = CachedEmbedder(inner, store)
    assert set(again.vectors) == set(first.vectors) | set(second.vectors)
    assert np.allclose(again.encode(["alpha beta", "gamma"]), expected)
    assert again.unsaved == 0  # nothing encoded anew


def test_enrichments_reused_give_the_same_evaluation(tmp_path: Path) -> None:
    corpus = load(_corpus(tmp_path))
    embedder = CachedEmbedder(HashingEmbedder())
    enrichments = Enrichments()
    plain = evaluate(corpus, PipelineConfig(), embedder)
    first = evaluate(corpus, PipelineConfig(), embedder, enrichments)
    kept = len(enrichments.enriched)
    moved = PipelineConfig(join_threshold=0.9)
    again = evaluate(corpus, moved, embedder, enrichments)
    assert kept > 0
    assert len(enrichments.enriched) == kept  # the second run enriched nothing anew
    assert first.measures == plain.measures
    assert again.measures == evaluate(corpus, moved, embedder).measures
