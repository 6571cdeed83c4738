"""The embedding model on both backends, for the tests that compare them (made once a session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.processor.evaluate import CachedEmbedder, embedding_store
from services.processor.export import export
from services.processor.pipeline import PipelineConfig, load_embedder
from services.processor.pipeline.embed import default_model_path
from services.processor.pipeline.onnx import OnnxEmbedder
from streams.config import load_settings


@pytest.fixture(scope="session")
def onnx_export() -> Path:
    """The packaged model's ONNX export, in the tests' STATE_DIR/onnx: written by the first
    session there (about 10 s), kept by later ones while the model's files are the same."""
    folder = load_settings().state_dir / "onnx"
    export(default_model_path(), folder)
    return folder


ONNX_BATCH = 16
"""Texts per forward pass of the compared ONNX vectors: a vector does not depend on its batch
(test_onnx.py checks it), and ONNX Runtime encodes these short texts faster in batches of 16
than of 64 (docs/performance.md)."""


@pytest.fixture(scope="session")
def onnx_vectors(onnx_export: Path) -> CachedEmbedder:
    """The ONNX embedder behind a memory of its vectors (no store: each session encodes
    afresh what it compares), shared by the tests so a corpus is encoded once."""
    return CachedEmbedder(OnnxEmbedder(onnx_export, ONNX_BATCH))


@pytest.fixture(scope="session")
def reference_vectors() -> Iterator[CachedEmbedder]:
    """sentence-transformers' vectors, from the evaluation's store in STATE_DIR/embeddings
    (warm: no text is encoded with torch again; what is encoded is added to it)."""
    config = PipelineConfig()
    cached = CachedEmbedder(
        load_embedder(config.model_path, config.embed_batch_size), embedding_store(config)
    )
    yield cached
    cached.save()
