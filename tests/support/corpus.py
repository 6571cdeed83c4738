"""The labelled trend corpora: items with their story labels, and the manifest of the stories.

`CORPUS` is the corpus the pipeline is tuned on; `HELDOUT` is a second, independently written
corpus of another week, kept to judge clustering on news nobody tuned for. Both folders hold an
`items.jsonl` and a `stories.json`; the loaders take either file or the folder itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.messages.records import RawItem

__all__ = [
    "CORPUS",
    "HELDOUT",
    "ITEM_KINDS",
    "STORY_KINDS",
    "LabelledItem",
    "StoryInfo",
    "load_corpus",
    "load_stories",
]

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "heldout"
ITEM_KINDS = frozenset({"story", "noise"})
STORY_KINDS = frozenset({"burst", "steady", "event"})


@dataclass(frozen=True)
class LabelledItem:
    """One item of the corpus with the story it belongs to (or its own `noise-NN` label)."""

    item: RawItem
    label: str
    kind: str


@dataclass(frozen=True)
class StoryInfo:
    """What the manifest says about one story."""

    label: str
    kind: str
    burst_at: datetime | None
    confuses_with: str | None
    summary: str


def load_corpus(path: Path = CORPUS / "items.jsonl") -> list[LabelledItem]:
    """Every item of the corpus, in file order, parsed as the pipeline would parse it.

    `path` is an `items.jsonl` file or a corpus folder holding one.
    """
    if path.is_dir():
        path = path / "items.jsonl"
    corpus = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields: dict[str, Any] = json.loads(line)
            label = fields.pop("label")
            kind = fields.pop("kind")
            if kind not in ITEM_KINDS:
                raise ValueError(f"{path.name}:{number}: unknown kind {kind!r}")
            corpus.append(LabelledItem(item=RawItem.parse(fields), label=label, kind=kind))
    return corpus


def load_stories(path: Path = CORPUS / "stories.json") -> dict[str, StoryInfo]:
    """The manifest of the corpus's stories, by label (`path`: a `stories.json` or its folder)."""
    if path.is_dir():
        path = path / "stories.json"
    manifest: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    stories = {}
    for label, entry in manifest.items():
        if entry["kind"] not in STORY_KINDS:
            raise ValueError(f"{path.name}: story {label!r} has unknown kind {entry['kind']!r}")
        stories[label] = StoryInfo(
            label=label,
            kind=entry["kind"],
            burst_at=_aware(entry["burst_at"], label) if entry["burst_at"] else None,
            confuses_with=entry["confuses_with"],
            summary=entry["summary"],
        )
    return stories


def _aware(text: str, label: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"story {label!r}: burst_at {text!r} has no timezone")
    return moment
