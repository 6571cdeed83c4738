"""`python -m services.processor.export [--out FOLDER] [--force]`: the embedding model as ONNX.

For EMBEDDING_BACKEND=onnx. Exports the model folder of EMBEDDING_MODEL_PATH (unset: the
packaged all-MiniLM-L6-v2) with torch, once: its transformer, the model's mean pooling and
its L2 normalisation in one graph (model.onnx), beside the tokenizer (tokenizer.json), the
word pieces (vocab.txt, the enrich stage's common words) and export.json (max length,
dimension, where from), in --out (default EMBEDDING_ONNX_PATH, else
STATE_DIR/onnx). Offline: the model folder is local. The export is then checked against
sentence-transformers on a few texts (cosine >= 0.9999 each, else it fails). An export of
the same model files already there is kept (--force writes it again).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from services.processor.pipeline.embed import SentenceTransformerEmbedder, model_source
from services.processor.pipeline.onnx import (
    EXPORT_COMMAND,
    INPUTS,
    MODEL_FILE,
    OUTPUT,
    SPEC_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
    ExportSpec,
    OnnxBackendError,
    OnnxEmbedder,
    read_spec,
)
from streams.config import load_settings, pipeline_config

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

__all__ = ["MIN_COSINE", "OPSET", "SAMPLES", "export", "fingerprint", "main", "verify"]

OPSET = 17
"""ONNX opset of the graph (ONNX Runtime 1.16 and later run it)."""
MIN_COSINE = 0.9999
"""Least cosine between an exported vector and sentence-transformers' own, per text."""
SAMPLES = (
    "Cloud outage takes down a region for five hours",
    "Aurora seen over Leeds as the geomagnetic storm peaks overnight; photos pour in",
    "ok",
    "Le Tour de France arrive à Paris: la dernière étape en direct " * 12,
)
"""Texts the export is checked on: short, long (past the max length), other languages, and of
different lengths in one batch (padding)."""


def _pooled(transformer: torch.nn.Module) -> torch.nn.Module:
    """The transformer, mean pooling over the real tokens and L2 normalisation, as one module
    (as sentence-transformers' Transformer, Pooling and Normalize modules do for this model)."""
    import torch  # noqa: PLC0415 - the export alone needs torch (a worker discovers this module)

    class Embedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    return Embedding().eval()


def fingerprint(model: Path) -> str:
    """A digest of the model folder's files: an export of other files is out of date."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def export(model: Path, out: Path, *, force: bool = False) -> tuple[ExportSpec, bool]:
    """The model folder's export in `out` and whether it was written now (False: an export of
    the same files was there already)."""
    current = fingerprint(model)
    if not force and _kept(out, current):
        return read_spec(out), False
    loaded = SentenceTransformerEmbedder(model).model
    _check_modules(loaded)
    out.mkdir(parents=True, exist_ok=True)
    (out / SPEC_FILE).unlink(missing_ok=True)  # written last: its presence marks a whole export
    _write_graph(loaded, out / MODEL_FILE)
    loaded.tokenizer.backend_tokenizer.save(str(out / TOKENIZER_FILE))
    shutil.copyfile(model / VOCAB_FILE, out / VOCAB_FILE)
    spec = ExportSpec(
        max_length=int(loaded.max_seq_length or 0),
        dimension=int(loaded.get_embedding_dimension() or 0),
        pad_id=int(loaded.tokenizer.pad_token_id or 0),
        source=str(model),
        fingerprint=current,
    )
    spec.write(out)
    return spec, True


def verify(model: Path, out: Path, texts: tuple[str, ...] = SAMPLES) -> float:
    """The least cosine between the export's vectors and sentence-transformers' on `texts`."""
    ours = OnnxEmbedder(out).encode(list(texts))
    theirs = SentenceTransformerEmbedder(model).encode(list(texts))
    return float(np.min(np.sum(ours * theirs, axis=1)))


def _kept(out: Path, current: str) -> bool:
    try:
        return read_spec(out).fingerprint == current
    except (OnnxBackendError, TypeError, ValueError):  # no export, or an unreadable one
        return False


def _check_modules(model: SentenceTransformer) -> None:
    names = [type(module).__name__ for module in model]
    pooling = getattr(model[1], "pooling_mode", None) if len(names) > 1 else None
    if (
        names != ["Transformer", "Pooling", "Normalize"]
        or pooling != "mean"
        or not (model.max_seq_length and model.get_embedding_dimension())
    ):
        raise SystemExit(
            f"export: only Transformer, mean Pooling, Normalize models are exported; this one "
            f"is {', '.join(names)} (pooling {pooling})"
        )


def _write_graph(model: SentenceTransformer, path: Path) -> None:
    import torch  # noqa: PLC0415 - the export alone needs torch

    sample = model.tokenizer(
        list(SAMPLES[:2]), padding=True, truncation=True, max_length=64, return_tensors="pt"
    )
    inputs = (sample["input_ids"], sample["attention_mask"])
    transformer = model[0].auto_model
    if not isinstance(transformer, torch.nn.Module):
        raise TypeError(f"export: the model's transformer is a {type(transformer).__name__}")
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    partial = path.with_suffix(".partial")
    with torch.no_grad():
        torch.onnx.export(
            _pooled(transformer),
            inputs,
            str(partial),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={**axes, OUTPUT: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed
        )
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Export the configured model (unless already exported), check it, print where it is."""
    parser = argparse.ArgumentParser(
        prog=EXPORT_COMMAND, description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--out", type=Path, help="folder (default EMBEDDING_ONNX_PATH)")
    parser.add_argument("--force", action="store_true", help="export again even if up to date")
    args = parser.parse_args(argv)
    config = pipeline_config(load_settings())
    model = model_source(config.model_path)
    out: Path = args.out or Path(config.onnx_path or "onnx")  # pipeline_config always sets it
    spec, written = export(model, out, force=args.force)
    cosine = verify(model, out)
    state = "exported" if written else "already exported"
    print(f"{state}: {model} -> {out} ({spec.dimension} dims, {spec.max_length} word pieces)")
    print(f"least cosine to sentence-transformers on {len(SAMPLES)} texts: {cosine:.6f}")
    if cosine < MIN_COSINE:
        print(f"export: cosine below {MIN_COSINE}: the export is wrong", file=sys.stderr)
        return 1
    print(f"EMBEDDING_BACKEND=onnx EMBEDDING_ONNX_PATH={out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
