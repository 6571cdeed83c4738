"""`python -m services.processor.cross [--write]`: leave-one-corpus-out over every labelled corpus.

For each corpus of tests/fixtures/corpora.json in turn, the numbers (services.processor.fit)
are fitted on all the others and the one left out is scored with them: purity, ARI, B-cubed
precision, recall and F1, and one-off posts that ended in a topic; beside it, plain
nearest-centroid on the same embeddings at the cosine threshold with the best mean ARI over
the same fitting corpora. The table, the worst left-out ARI (which corpus) and the mean are
printed; then the numbers fitted on every corpus (the shipped defaults) and the sweep of each
main setting at -20 % and +20 % of them on every corpus. `--write` records all of it in
tests/fixtures/loco.json. Each finished fold is kept in STATE_DIR/loco, so a run stopped
midway goes on where it was (`--fresh` starts again); embeddings are kept in
STATE_DIR/embeddings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from services.processor.corpora import MANIFEST, Corpus, available, manifest
from services.processor.evaluate import (
    BASELINE_THRESHOLDS,
    SWEPT,
    CachedEmbedder,
    Evaluation,
    Labelled,
    Measures,
    embedding_store,
    evaluate,
    nearest_centroid,
)
from services.processor.fanout import aris
from services.processor.fit import FLOORS, THRESHOLDS, Fitter, Numbers
from services.processor.pipeline import Embedder, PipelineConfig, embedder_for
from streams.config import load_settings

__all__ = [
    "RECORD",
    "SWEEP_FACTORS",
    "Baseline",
    "Figures",
    "Fold",
    "baseline",
    "baselines",
    "figures",
    "main",
    "one_offs",
    "sweep_all",
]

RECORD = MANIFEST.parent / "loco.json"
SWEEP_FACTORS = (0.8, 1.2)
"""Factors of each main setting swept around the fitted numbers (-20 %, +20 %)."""


@dataclass(frozen=True)
class Figures:
    """How the pipeline's topics of one corpus compare with its stories."""

    purity: float
    ari: float
    precision: float
    recall: float
    f1: float
    """B-cubed precision, recall and F1."""
    one_offs: int
    """One-off posts (stories of one item) that ended in a topic."""


@dataclass(frozen=True)
class Baseline:
    """Plain nearest-centroid on one corpus, at a threshold chosen on other corpora."""

    threshold: float
    purity: float
    ari: float
    f1: float


@dataclass(frozen=True)
class Fold:
    """One corpus left out: the numbers fitted without it, and its scores with them."""

    numbers: Numbers
    figures: Figures
    baseline: Baseline


def one_offs(corpus: Sequence[Labelled], evaluation: Evaluation) -> int:
    """Items of stories with a single item (one-off posts) that ended in a topic."""
    sizes = Counter(entry.story for entry in corpus)
    return sum(
        count
        for members in evaluation.clusters.values()
        for story, count in members.items()
        if sizes[story] == 1
    )


def figures(corpus: Sequence[Labelled], evaluation: Evaluation) -> Figures:
    """The figures of an evaluation, rounded to 4 places."""
    measures = evaluation.measures
    return Figures(
        round(measures.purity, 4),
        round(measures.ari, 4),
        round(measures.bcubed.precision, 4),
        round(measures.bcubed.recall, 4),
        round(measures.bcubed.f1, 4),
        one_offs(corpus, evaluation),
    )


def baselines(
    corpora: Mapping[str, Sequence[Labelled]],
    embedder: Embedder,
    thresholds: Sequence[float] = BASELINE_THRESHOLDS,
) -> dict[str, dict[float, Measures]]:
    """Plain nearest-centroid on every corpus at every threshold (it learns nothing else, so
    each fold only chooses among these)."""
    return {
        name: {t: nearest_centroid(corpus, embedder, t) for t in thresholds}
        for name, corpus in corpora.items()
    }


def baseline(table: Mapping[str, Mapping[float, Measures]], fitting: Sequence[str]) -> float:
    """The threshold with the best mean ARI of nearest-centroid over the fitting corpora."""
    thresholds = next(iter(table.values())).keys()
    return max(thresholds, key=lambda t: sum(table[name][t].ari for name in fitting))


def _baseline_of(measures: Measures, threshold: float) -> Baseline:
    return Baseline(
        threshold,
        round(measures.purity, 4),
        round(measures.ari, 4),
        round(measures.bcubed.f1, 4),
    )


def sweep_all(
    corpora: Mapping[str, Sequence[Labelled]],
    config: PipelineConfig,
    embedder: Embedder,
    fitter: Fitter,
) -> dict[str, dict[str, dict[str, float]]]:
    """ARI of every corpus with each main setting at each SWEEP_FACTORS of `config`, the
    others kept (and "1.0": at `config` itself), by setting, factor and corpus."""
    moved = {
        (setting, str(factor)): replace(config, **{setting: getattr(config, setting) * factor})
        for setting in SWEPT
        for factor in SWEEP_FACTORS
    }
    cells: list[tuple[str, str | None, str]] = [(name, None, "1.0") for name in corpora]
    cells += [(name, setting, factor) for name in corpora for setting, factor in moved]
    jobs = [
        (corpora[name], config if setting is None else moved[setting, factor])
        for name, setting, factor in cells
    ]
    found: dict[str, dict[str, dict[str, float]]] = {s: {} for s in SWEPT}
    for (name, setting, factor), ari in zip(
        cells, aris(jobs, embedder, fitter.enrichments), strict=True
    ):
        for row in found.values() if setting is None else [found[setting]]:
            row.setdefault(factor, {})[name] = round(ari, 4)
    return found


class _Progress:
    """Finished folds kept on disk (STATE_DIR/loco/<key>/<fold>.json), for a run that stops
    midway or runs beside another on other folds."""

    def __init__(self, folder: Path, fresh: bool) -> None:
        self.folder = folder
        if fresh:
            for kept in folder.glob("*.json"):
                kept.unlink()

    @property
    def done(self) -> dict[str, Any]:
        """Every fold finished so far, by name."""
        return {kept.stem: json.loads(kept.read_text()) for kept in self.folder.glob("*.json")}

    def keep(self, name: str, value: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f"{name}.partial"
        partial.write_text(json.dumps(value, indent=1))
        partial.replace(self.folder / f"{name}.json")


def _key(corpora: Sequence[Corpus], base: PipelineConfig, fitter: Fitter) -> str:
    """What a fold's result depends on: the corpora's bytes, the settings and the grids."""
    grids = (base, fitter.floors, fitter.thresholds, fitter.with_twins)
    digest = hashlib.sha256(repr(grids).encode())
    for corpus in corpora:
        digest.update(corpus.name.encode())
        digest.update(corpus.items.read_bytes())
    return digest.hexdigest()[:16]


def _fold(
    name: str,
    corpora: Mapping[str, Sequence[Labelled]],
    fitter: Fitter,
    table: Mapping[str, Mapping[float, Measures]],
    say: Callable[[str], None],
) -> Fold:
    fitting = {other: corpus for other, corpus in corpora.items() if other != name}
    choice = fitter.fit(fitting, held_out={name}, progress=say)
    evaluation = evaluate(corpora[name], choice.numbers.config(fitter.base), fitter.embedder)
    threshold = baseline(table, list(fitting))
    return Fold(
        choice.numbers,
        figures(corpora[name], evaluation),
        _baseline_of(table[name][threshold], threshold),
    )


def _fold_of(saved: Mapping[str, Any]) -> Fold:
    return Fold(
        Numbers(saved["numbers"]), Figures(**saved["figures"]), Baseline(**saved["baseline"])
    )


def _fold_dict(fold: Fold) -> dict[str, Any]:
    """A fold as tests/fixtures/loco.json records it (its numbers by setting)."""
    return {**asdict(fold), "numbers": fold.numbers.to_dict()}


def _table(folds: Mapping[str, Fold]) -> list[str]:
    lines = [
        "left out       purity   ARI     B3 P    B3 R    B3 F1   one-off  | baseline ARI (cos)",
    ]
    for name, fold in folds.items():
        f, b = fold.figures, fold.baseline
        lines.append(
            f"{name:13}  {f.purity:.4f}  {f.ari:.4f}  {f.precision:.4f}  {f.recall:.4f}  "
            f"{f.f1:.4f}  {f.one_offs:7d}  | {b.ari:.4f} ({b.threshold})"
        )
    worst = min(folds, key=lambda name: folds[name].figures.ari)
    mean = sum(fold.figures.ari for fold in folds.values()) / len(folds)
    base = sum(fold.baseline.ari for fold in folds.values()) / len(folds)
    lines.append(f"worst left-out ARI {folds[worst].figures.ari:.4f} ({worst}); mean {mean:.4f}")
    lines.append(f"nearest-centroid mean left-out ARI {base:.4f}")
    return lines


def _folds(
    corpora: Mapping[str, Sequence[Labelled]],
    fitter: Fitter,
    table: Mapping[str, Mapping[float, Measures]],
    progress: _Progress,
    say: Callable[[str], None],
) -> dict[str, Fold]:
    """Every corpus left out in turn (folds kept from a past run are taken as they are)."""
    folds: dict[str, Fold] = {}
    for name in corpora:
        if name in progress.done:
            folds[name] = _fold_of(progress.done[name])
            say(f"{name}: kept from a past run")
            continue
        say(f"{name} left out: fitting on the {len(corpora) - 1} others")
        folds[name] = _fold(name, corpora, fitter, table, say)
        progress.keep(name, _fold_dict(folds[name]))
        say(f"{name}: {folds[name].figures}")
    return folds


def _everything(
    corpora: Mapping[str, Sequence[Labelled]],
    fitter: Fitter,
    table: Mapping[str, Mapping[float, Measures]],
    progress: _Progress,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The numbers fitted on every corpus (the shipped defaults) and the baseline's threshold."""
    if "all" not in progress.done:
        say("fitting on every corpus (the shipped defaults)")
        choice = fitter.fit(corpora, progress=say)
        progress.keep(
            "all",
            {
                "numbers": choice.numbers.to_dict(),
                "mean_ari": round(choice.mean_ari, 4),
                "baseline_threshold": baseline(table, list(corpora)),
            },
        )
    found: dict[str, Any] = progress.done["all"]
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the protocol, print its table and (with --write) record it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"record the results in {RECORD}")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--require-all", action="store_true", help="a missing corpus is an error")
    parser.add_argument("--fresh", action="store_true", help="forget folds kept from a past run")
    parser.add_argument("--no-sweep", action="store_true", help="skip the sweep")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help="run only these folds (comma-separated; another run may do the others)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {text}", flush=True)

    listed = available(manifest(args.manifest), require_all=args.require_all)
    listed = [corpus for corpus in listed if not corpus.held_out]
    base = PipelineConfig()
    embedder = CachedEmbedder(embedder_for(base), embedding_store(base))
    fitter = Fitter(embedder, base, FLOORS, THRESHOLDS)
    corpora = {corpus.name: corpus.load() for corpus in listed}
    folder = load_settings().state_dir / "loco" / _key(listed, base, fitter)
    progress = _Progress(folder, args.fresh)
    say(f"{len(corpora)} corpora: {', '.join(corpora)}")
    try:
        table = baselines(corpora, embedder)
        say("nearest-centroid scored at every threshold")
        if args.only:
            for name in args.only:
                if name == "all":
                    _everything(corpora, fitter, table, progress, say)
                elif name not in progress.done:
                    progress.keep(name, _fold_dict(_fold(name, corpora, fitter, table, say)))
            return 0
        folds = _folds(corpora, fitter, table, progress, say)
        everything = _everything(corpora, fitter, table, progress, say)
    finally:
        embedder.save()
    print("\n".join(_table(folds)))
    print(f"fitted on every corpus: {everything['numbers']}")
    record: dict[str, Any] = {
        "all": everything,
        "folds": {name: _fold_dict(fold) for name, fold in folds.items()},
        "grid": {"floors": list(FLOORS), "thresholds": list(THRESHOLDS)},
    }
    if not args.no_sweep:
        config = Numbers(everything["numbers"]).config(base)
        record["sweep"] = sweep_all(corpora, config, embedder, fitter)
        print("\n".join(_sweep_lines(record["sweep"])))
    say("done")
    if args.write:
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
        print(f"recorded in {RECORD}")
    return 0


def _sweep_lines(found: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    lines = []
    for setting, row in found.items():
        means = "  ".join(f"x{f} {sum(v.values()) / len(v):.4f}" for f, v in row.items())
        lines.append(f"sweep {setting:26} mean ARI {means}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
