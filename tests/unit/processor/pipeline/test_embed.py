"""Embedders: the packaged MiniLM model, loaded once, and the hashing stand-in for benchmarks."""

from __future__ import annotations

import numpy as np

from services.processor.pipeline.embed import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    l2_normalize,
    load_embedder,
)


def test_the_packaged_model_encodes_unit_vectors_offline() -> None:
    embedder = load_embedder()
    vectors = embedder.encode(
        [
            "Cloud outage takes down a region for five hours",
            "A provider's data centre failure knocks services offline",
            "My sourdough starter survived a week in the fridge",
        ]
    )
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_the_model_is_loaded_once_per_process() -> None:
    assert load_embedder() is load_embedder()
    assert SentenceTransformerEmbedder().model is load_embedder().model  # type: ignore[attr-defined]


def test_encoding_nothing_gives_an_empty_matrix() -> None:
    assert load_embedder().encode([]).shape == (0, 384)
    assert HashingEmbedder(16).encode([]).shape == (0, 16)


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashingEmbedder(64)
    first, second = embedder.encode(["aurora over Leeds", "aurora over Leeds"])
    other = embedder.encode(["a recall of brake lines"])[0]
    assert isinstance(embedder, Embedder)
    np.testing.assert_array_equal(first, second)
    assert abs(float(first @ first) - 1.0) < 1e-6
    assert float(first @ other) < 0.5


def test_l2_normalize_leaves_zero_rows_alone() -> None:
    rows = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
