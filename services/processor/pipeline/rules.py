"""The clustering rules a cluster state is built under: the code's revision and the settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from services.processor.pipeline.config import PipelineConfig

__all__ = ["REVISION", "rules_of"]

REVISION = 1
"""The revision of the code that places items (similarity, assignment, merging, the second
look): raised by hand with any change to it that moves an item to another topic."""
_OPERATIONAL = frozenset({"model_path", "onnx_path", "embed_batch_size", "embed_threads"})
"""Settings that never move an item (where the model or its export is read from, how many
texts at once, on how many threads). The embedding backend counts: its vectors agree to 1e-6,
not bit for bit."""


def rules_of(config: PipelineConfig) -> str:
    """`<REVISION>-<digest of every other setting>`: two stages of equal rules place the same
    items in the same topics; a state saved under other rules holds topics those made."""
    settings = {k: v for k, v in asdict(config).items() if k not in _OPERATIONAL}
    digest = hashlib.sha1(
        json.dumps(settings, sort_keys=True, default=str).encode(), usedforsecurity=False
    )
    return f"{REVISION}-{digest.hexdigest()[:12]}"
