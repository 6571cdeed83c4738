"""Embedders: the packaged MiniLM model, loaded once, and the hashing stand-in for benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.processor.pipeline import PipelineConfig
from services.processor.pipeline.embed import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    check_backend,
    embedder_for,
    l2_normalize,
    load_embedder,
)
from services.processor.pipeline.onnx import EXPORT_COMMAND, OnnxBackendError, OnnxEmbedder
from streams.exceptions import ConfigurationError


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


def test_the_configuration_names_the_backend(onnx_export: Path) -> None:
    assert embedder_for(PipelineConfig()) is load_embedder()
    onnx = PipelineConfig(embedding_backend="onnx", onnx_path=str(onnx_export))
    assert isinstance(embedder_for(onnx), OnnxEmbedder)


def test_a_backend_that_can_run_passes_the_start_check(onnx_export: Path) -> None:
    check_backend(PipelineConfig())
    check_backend(PipelineConfig(embedding_backend="onnx", onnx_path=str(onnx_export)))


def test_the_onnx_backend_without_its_export_fails_the_start_check(tmp_path: Path) -> None:
    with pytest.raises(OnnxBackendError, match=f"`{EXPORT_COMMAND} --out {tmp_path}`"):
        check_backend(PipelineConfig(embedding_backend="onnx", onnx_path=str(tmp_path)))
    with pytest.raises(ConfigurationError, match="EMBEDDING_ONNX_PATH"):
        check_backend(PipelineConfig(embedding_backend="onnx"))
