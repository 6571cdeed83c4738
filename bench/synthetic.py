"""Synthetic stories for the cluster stage benchmarks: enriched items, fake embedder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bench.embedder import BenchHashEmbedder
from services.processor.pipeline import Enriched

__all__ = ["Stories", "Story"]

_CONSONANTS = "bcdfghjklmnprstvz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c, v in itertools.product(_CONSONANTS, _VOWELS)]
COMMON = 3000
"""Words every story may use (the language's common words)."""


def word(number: int) -> str:
    """A pronounceable made-up word, one per number (three syllables or more)."""
    syllables = []
    for _ in range(3):
        number, rest = divmod(number, len(_SYLLABLES))
        syllables.append(_SYLLABLES[rest])
    while number:
        number, rest = divmod(number, len(_SYLLABLES))
        syllables.append(_SYLLABLES[rest])
    return "".join(syllables)


@dataclass(frozen=True, slots=True)
class Story:
    """What a story's items are made of: its own words and names."""

    number: int
    words: tuple[str, ...]
    names: tuple[str, ...]
    """Capitalised names (its entities), the first one the most mentioned."""


class Stories:
    """New stories and their items: an item takes most of its words and one to three names
    from its story, the rest from common words, and is embedded by the fake embedder (hashed
    words), so items of one story are close and stories apart; deterministic for a seed."""

    def __init__(self, seed: int = 7, places: int = 500) -> None:
        self.rng = np.random.default_rng(seed)
        self.embedder = BenchHashEmbedder()
        self.made = 0
        self.stories = 0
        self.places = [word(COMMON + n).capitalize() for n in range(places)]
        """Names shared by many stories (towns, companies)."""

    def story(self, number: int | None = None) -> Story:
        """A story (a new one, or the one of that number again: the same for a number):
        16 words and 3 names of its own, the last one a shared place for odd numbers."""
        if number is None:
            self.stories += 1
            number = self.stories
        base = COMMON + len(self.places) + number * 19
        words = tuple(word(base + n) for n in range(16))
        names = [word(base + 16 + n).capitalize() for n in range(3)]
        if number % 2:
            names[2] = self.places[number * 7919 % len(self.places)]
        return Story(number, words, tuple(names))

    def items(self, events: Sequence[tuple[datetime, Story]]) -> list[Enriched]:
        """One enriched item per (time, story), embedded in one call."""
        made = [self._text(story) for _, story in events]
        vectors = self.embedder.encode([f"{title}. {text}" for title, text, _ in made])
        items = []
        for (at, _), (title, _, names), vector in zip(events, made, vectors, strict=True):
            self.made += 1
            engagement = int(self.rng.integers(0, 200))
            items.append(
                Enriched(
                    item_id=f"bench:{self.made}",
                    title=title,
                    at=at,
                    language="en",
                    entities=tuple(name.casefold() for name in names),
                    vector=vector,
                    score=engagement,
                    comments=engagement // 4,
                )
            )
        return items

    def _text(self, story: Story) -> tuple[str, str, list[str]]:
        """A title and text: the story's lede (its first six words, in order), some more of
        its words, a few common words, one to three of its names."""
        rng = self.rng
        names = list(story.names[: 1 + int(rng.integers(0, 3))])
        lede = list(story.words[:6])
        own = [story.words[int(i)] for i in rng.integers(6, len(story.words), 6)]
        common = [word(int(i)) for i in rng.integers(0, COMMON, 8)]
        title = " ".join([names[0], *lede[:4], *common[:2]])
        text = " ".join([*lede, *own, *common[2:], *names[1:]])
        return title, text, names
