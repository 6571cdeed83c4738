"""BENCHMARK ONLY: a cheap deterministic stand-in for the sentence model (hashed words, no meaning).

Used by benchmark 2 ("pipeline without the model") through bench/hash_processor.py; never by
the services. Vectors have the model's dimension (384) so Qdrant and the pipeline see the same
shapes; similar wordings get similar vectors, so clustering still has topics to find.
"""

from __future__ import annotations

import itertools
import re
import zlib

import numpy as np
import numpy.typing as npt

DIMENSION = 384
_WORDS = re.compile(r"\w+")


class BenchHashEmbedder:
    """FAKE EMBEDDER FOR BENCHMARKS: CRC32-hashed word and bigram counts, L2-normalised."""

    def __init__(self, dimension: int = DIMENSION) -> None:
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """The vector length (the real model's, 384, by default)."""
        return self._dimension

    def encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text."""
        matrix = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORDS.findall(text.casefold())
            for feature in itertools.chain(words, map(" ".join, itertools.pairwise(words))):
                code = zlib.crc32(feature.encode())
                matrix[row, code % self._dimension] += 1.0 if code & 0x80000000 else -1.0
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
