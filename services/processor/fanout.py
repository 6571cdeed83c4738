"""Many evaluations at once: (corpus, settings) pairs spread over forked processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence

from services.processor.evaluate import Enrichments, Labelled, evaluate
from services.processor.pipeline import Embedder, PipelineConfig

__all__ = ["Job", "aris"]

Job = tuple[Sequence[Labelled], PipelineConfig]
"""A corpus and the settings to evaluate it with."""

_WORK: tuple[Sequence[Job], Embedder, Enrichments] | None = None
"""The jobs of the fan-out under way, inherited by the forked processes."""


def aris(
    jobs: Sequence[Job],
    embedder: Embedder,
    enrichments: Enrichments,
    processes: int | None = None,
) -> list[float]:
    """The ARI `evaluate` gives each job, the same numbers as one after the other, on
    `processes` forked processes (default: one per CPU).

    A corpus whose enrichment `enrichments` does not hold yet is evaluated here first: the
    forked processes only cluster, and never run the model (whose threads do not survive a
    fork).
    """
    global _WORK  # noqa: PLW0603 - what the forked processes inherit
    found = {
        n: evaluate(corpus, config, embedder, enrichments).ari
        for n, (corpus, config) in enumerate(jobs)
        if not enrichments.holds(corpus, config)
    }
    rest = [n for n in range(len(jobs)) if n not in found]
    processes = min(processes or os.cpu_count() or 1, len(rest))
    if processes <= 1:
        found |= {n: evaluate(*jobs[n], embedder, enrichments).ari for n in rest}
        return [found[n] for n in range(len(jobs))]
    _WORK = (jobs, embedder, enrichments)
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            found |= dict(zip(rest, pool.map(_ari, rest), strict=True))
    finally:
        _WORK = None
    return [found[n] for n in range(len(jobs))]


def _ari(n: int) -> float:
    assert _WORK is not None
    jobs, embedder, enrichments = _WORK
    corpus, config = jobs[n]
    return evaluate(corpus, config, embedder, enrichments).ari
