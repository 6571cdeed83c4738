"""The ONNX embedder: the model's export on ONNX Runtime (onnxruntime, tokenizers), no torch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from services.processor.pipeline.embed import Vectors, l2_normalize
from streams.exceptions import ConfigurationError

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from tokenizers import Encoding, Tokenizer

__all__ = [
    "EXPORT_COMMAND",
    "INPUTS",
    "MODEL_FILE",
    "OUTPUT",
    "SPEC_FILE",
    "TOKENIZER_FILE",
    "VOCAB_FILE",
    "ExportSpec",
    "OnnxBackendError",
    "OnnxEmbedder",
    "read_spec",
]

EXPORT_COMMAND = "python -m services.processor.export"
"""Writes the export (with torch, once): services/processor/export.py."""
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.txt"
"""The model's word pieces, copied for the enrich stage's common-word list."""
SPEC_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask")
"""The graph's inputs, int64 (batch, tokens); token types are all zero inside it."""
OUTPUT = "sentence_embedding"
"""The graph's output, float32 (batch, dimension): mean-pooled and L2-normalised."""


class OnnxBackendError(ConfigurationError):
    """The onnx backend was chosen but the model's export, or ONNX Runtime, is not there."""


@dataclass(frozen=True)
class ExportSpec:
    """What the runtime needs to know of an export besides its files (export.json)."""

    max_length: int
    """Word pieces read per text (the model's max_seq_length); longer texts are cut."""
    dimension: int
    pad_id: int
    source: str
    """The model folder it was exported from."""
    fingerprint: str
    """A digest of that folder's files (the export command redoes an export of other files)."""

    def write(self, folder: Path) -> None:
        """Save it as the folder's export.json."""
        (folder / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")


def read_spec(folder: Path) -> ExportSpec:
    """The export's spec; OnnxBackendError naming the export command if a file is missing."""
    files = (MODEL_FILE, TOKENIZER_FILE, VOCAB_FILE, SPEC_FILE)
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise OnnxBackendError(
            f"EMBEDDING_BACKEND=onnx needs the model's ONNX export in {folder} (missing: "
            f"{', '.join(missing)}): write it once with `{EXPORT_COMMAND} --out {folder}` "
            "(needs torch: the `torch` extra), or set EMBEDDING_ONNX_PATH to an export"
        )
    fields: dict[str, Any] = json.loads((folder / SPEC_FILE).read_text())
    return ExportSpec(**fields)


class OnnxEmbedder:
    """The exported model on ONNX Runtime's CPU provider, encoding in batches: texts sorted by
    length, each batch padded to its longest, cut at the model's max length (as
    sentence-transformers does)."""

    def __init__(self, folder: str | Path, batch_size: int = 64, threads: int = 0) -> None:
        path = Path(folder)
        self.spec = read_spec(path)
        self.session = _session(path / MODEL_FILE, threads)
        self.tokenizer = _tokenizer(path / TOKENIZER_FILE, self.spec.max_length)
        self.batch_size = batch_size

    @property
    def dimension(self) -> int:
        """The model's embedding size (384 for all-MiniLM-L6-v2)."""
        return self.spec.dimension

    def encode(self, texts: list[str]) -> Vectors:
        """Unit-length embeddings of the texts, computed in batches."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        encodings = self.tokenizer.encode_batch(texts)
        order = np.argsort([-len(encoding.ids) for encoding in encodings], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            vectors[rows] = self._run([encodings[row] for row in rows])
        return l2_normalize(vectors)

    def _run(self, encodings: Sequence[Encoding]) -> Vectors:
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.full((len(encodings), width), self.spec.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (vectors,) = self.session.run([OUTPUT], dict(zip(INPUTS, (ids, mask), strict=True)))
        return np.asarray(vectors, dtype=np.float32)


def _session(model: Path, threads: int = 0) -> InferenceSession:
    """A CPU session on the export, its operators on `threads` threads (0: one per core)."""
    try:
        import onnxruntime  # noqa: PLC0415 - only the onnx backend needs it
    except ImportError as missing:
        raise OnnxBackendError(
            "EMBEDDING_BACKEND=onnx needs ONNX Runtime: pip install 'trend-stream[onnx]'"
        ) from missing
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def _tokenizer(path: Path, max_length: int) -> Tokenizer:
    from tokenizers import Tokenizer  # noqa: PLC0415 - only the onnx backend needs it

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()  # each batch is padded to its own longest text
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
