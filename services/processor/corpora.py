"""The labelled corpora of the leave-one-corpus-out protocol (tests/fixtures/corpora.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.processor.evaluate import Labelled, load

__all__ = ["FORMATS", "MANIFEST", "Corpus", "MissingCorpusError", "available", "manifest"]

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "tests" / "fixtures" / "corpora.json"
FORMATS = frozenset({"project", "brief", "week"})
"""How a corpus's files are laid out (the manifest's `about` says each)."""


class MissingCorpusError(FileNotFoundError):
    """A corpus the run needs is not where the manifest says."""


@dataclass(frozen=True)
class Corpus:
    """One labelled corpus of the manifest."""

    name: str
    items: Path
    stories: Path
    format: str
    writer: str
    looked_at: str | None
    """Who looked at its items and why, if anyone who chooses a number did."""
    required: bool
    """False only for corpora outside the checkout (the shared weeks)."""
    held_out: bool
    """Kept out of every fit (fit.py refuses it)."""

    @property
    def present(self) -> bool:
        """Whether its files are where the manifest says."""
        return self.items.is_file() and self.stories.is_file()

    def load(self) -> list[Labelled]:
        """Its items with their stories (through evaluate.load, which reads every format)."""
        return load(self.items)


def manifest(path: Path = MANIFEST) -> list[Corpus]:
    """Every corpus the manifest lists, in its order (paths resolved from the checkout)."""
    root = path.resolve().parents[2]
    listed = json.loads(path.read_text(encoding="utf-8"))["corpora"]
    corpora = [
        Corpus(
            name=entry["name"],
            items=(root / entry["items"]).resolve(),
            stories=(root / entry["stories"]).resolve(),
            format=entry["format"],
            writer=entry["writer"],
            looked_at=entry["looked_at"],
            required=entry["required"],
            held_out=entry["held_out"],
        )
        for entry in listed
    ]
    unknown = [c.name for c in corpora if c.format not in FORMATS]
    if unknown:
        raise ValueError(f"{path}: unknown format for {', '.join(unknown)}")
    return corpora


def available(corpora: Sequence[Corpus], *, require_all: bool = False) -> list[Corpus]:
    """The corpora present; a required one missing (any one, with `require_all`, as in CI)
    is an error, an optional one missing is left out."""
    missing = [c.name for c in corpora if not c.present and (c.required or require_all)]
    if missing:
        raise MissingCorpusError(f"corpora missing: {', '.join(missing)}")
    return [corpus for corpus in corpora if corpus.present]
