"""Evaluations fanned out over forked processes give what one after the other gives."""

from __future__ import annotations

from dataclasses import replace

from services.processor.evaluate import Enrichments, Labelled, evaluate
from services.processor.fanout import aris
from services.processor.pipeline import HashingEmbedder, PipelineConfig
from tests.support.corpus import HELDOUT, load_corpus


def _labelled(heldout: bool = False) -> list[Labelled]:
    corpus = load_corpus(HELDOUT) if heldout else load_corpus()
    return [Labelled(entry.item, entry.label) for entry in corpus]


def test_forked_evaluations_equal_serial_ones_and_enrich_each_corpus_once_here() -> None:
    config = PipelineConfig()
    tuning, heldout = _labelled(), _labelled(heldout=True)
    loose = replace(config, join_threshold=config.join_threshold * 0.8)
    jobs = [(tuning, config), (heldout, config), (tuning, loose), (heldout, loose)]
    embedder, enrichments = HashingEmbedder(), Enrichments()
    found = aris(jobs, embedder, enrichments, processes=2)
    serial = [evaluate(corpus, at, HashingEmbedder()).ari for corpus, at in jobs]
    assert found == serial
    assert found[0] != found[2]  # the settings moved the result: the jobs were not mixed up
    assert enrichments.holds(tuning, loose) and enrichments.holds(heldout, config)
    assert aris(jobs[:1], embedder, enrichments, processes=1) == serial[:1]
