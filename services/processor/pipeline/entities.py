"""Named entities by capitalised-phrase extraction (plus rare lower-case names), IDF-weighted."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # type: ignore[import-untyped]

__all__ = [
    "COMMON_WORDS",
    "EntityExtractor",
    "EntityStats",
    "load_vocabulary",
    "name_key",
    "profile_similarity",
]

_SENTENCES = re.compile(r"(?<=[.!?])\s+|[:;|\n\"\u201c\u201d()\[\]]|\s[-\u2013\u2014]+\s")
_TOKEN = re.compile(r"\w(?:[\w'\u2019.&+-]*[\w+])?")
_NUMBERISH = re.compile(r"^[\d.,]+(?:x|s|k|m|bn|th|st|nd|rd|h|pm|am|%)?$", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s$", re.IGNORECASE)
_CONNECTORS = frozenset({"of", "de", "du", "la", "le", "von", "van", "der", "den", "&"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CALENDAR = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday today yesterday tomorrow tonight"
)
_GENERIC = _words(
    "new show ask tell launch hn breaking update updated report reports exclusive live watch "
    "opinion analysis review video photos explainer why how what when where who which "
    "here this that these those there it its our their my your his her we they you i "
    "mr mrs ms dr st ceo cto inc ltd co corp llc plc edit tl psa til eli5 "
    "yes no not just also but and or so if then than"
)
COMMON_WORDS = frozenset(ENGLISH_STOP_WORDS) | _CALENDAR | _GENERIC
"""Words never taken as an entity on their own, whatever their case."""
_MIN_RARE_LENGTH = 4
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "est")
_TITLE_CASE_SHARE = 0.7
_TITLE_CASE_MIN_WORDS = 3
_STEM_LENGTH = 6
_ACRONYM_LENGTH = 3


def _is_strong(token: str) -> bool:
    """Capitals after the first letter (AWS, OpenAI, iPhone, 5G) or letters mixed with digits
    (us-east-1, GPT-5); quantities such as 25bp or 10x are not names."""
    if _NUMBERISH.match(token):
        return False
    capitals = any(char.isupper() for char in token[1:])
    if token[0].isdigit():
        return capitals
    return capitals or any(char.isdigit() for char in token)


def _is_capitalised(token: str) -> bool:
    return token[0].isupper() or _is_strong(token)


def name_key(key: str) -> str:
    """The key a name is matched by: a single word of seven letters or more by its first six
    (`eldoria`, `eldorian` and `eldorians` are one name; `hungary` and `hungarian` too)."""
    return key[:_STEM_LENGTH] if len(key) > _STEM_LENGTH and key.isalpha() else key


def _key(phrase: list[str]) -> str:
    return _POSSESSIVE.sub("", " ".join(phrase)).casefold().strip(".'\u2019-")


def _title_case(tokens: list[str]) -> bool:
    """True when capitals in a sentence carry no signal (a Headline Written Like This)."""
    words = [t for t in tokens[1:] if len(t) >= 4 and t.isalpha() and not _is_strong(t)]
    capitalised = sum(token[0].isupper() for token in words)
    return len(words) >= _TITLE_CASE_MIN_WORDS and capitalised >= _TITLE_CASE_SHARE * len(words)


def _cases(text: str) -> tuple[Counter[str], Counter[str]]:
    """(lower-case, capitalised) counts of the words of a text in the middle of a sentence,
    outside headlines in title case."""
    lowercase: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    for sentence in _SENTENCES.split(text):
        tokens = _TOKEN.findall(sentence)
        if _title_case(tokens):
            continue
        words = [token for token in tokens[1:] if token.isalpha()]
        lowercase.update(word for word in words if word.islower())
        capitalised.update(word.casefold() for word in words if word[0].isupper())
    return lowercase, capitalised


def load_vocabulary(path: Path) -> frozenset[str]:
    """The whole words of a WordPiece vocabulary file (a model's vocab.txt), lower-cased.

    BERT-style vocabularies hold the ~20,000 most frequent English words (and well-known
    names): a dictionary of common words that ships with the model, so nothing is downloaded.
    """
    if not path.is_file():
        return frozenset()
    words = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(word for word in words if len(word) > 1 and word.isalpha())


@dataclass
class EntityExtractor:
    """Finds capitalised phrases, skipping words that are capitalised only by position.

    No tagger model is needed (spaCy's models are not on PyPI): a phrase is a run of
    capitalised words or acronyms (`Bank of Eldoria`, `AWS`, `us-east-1`, `GPT-5`), joined by
    `of`, `de` and the like; a possessive ends it.

    Stop words, months, weekdays and generic headline words ("Show HN", "New") are never
    entities. A word capitalised only by its position (first of a sentence, or inside a
    headline in title case) is kept when it is seen capitalised mid-sentence at least as often
    as in lower case, or, never seen mid-sentence, when it is not a common word of `vocabulary`.
    """

    vocabulary: frozenset[str] = frozenset()
    """Common words (see load_vocabulary): capitalised by position, they are not names."""
    rare_terms: bool = True
    """Also take lower-case words outside `vocabulary` (libvarn, sshd): names written in
    lower case, as software and hashtags often are."""
    lowercase: Counter[str] = field(default_factory=Counter)
    """How often each word was seen in lower case in the middle of a sentence."""
    capitalised: Counter[str] = field(default_factory=Counter)
    """How often each word was seen capitalised in the middle of a sentence."""

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of the learnt word cases (the vocabulary is not included)."""
        return {"lowercase": dict(self.lowercase), "capitalised": dict(self.capitalised)}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back the word cases saved by state()."""
        self.lowercase = Counter(state["lowercase"])
        self.capitalised = Counter(state["capitalised"])

    def learn(self, text: str) -> None:
        """Count the case each word takes mid-sentence (outside headlines in title case)."""
        lowercase, capitalised = _cases(text)
        self.lowercase.update(lowercase)
        self.capitalised.update(capitalised)

    def extract(self, text: str) -> list[str]:
        """The entity keys in a text (case-folded phrases), each once, in order of appearance.

        The text's own mid-sentence word cases count beside the learnt ones, but are not kept:
        an item's entities depend on the item alone (and what was learnt explicitly), so any
        worker finds the same ones.
        """
        return self.extract_names(text)[0]

    def extract_names(self, text: str) -> tuple[list[str], list[str]]:
        """The entity keys in a text (see extract), and those of them written as proper names.

        A proper name is a capitalised phrase (or acronym) without digits, and the uncommon
        words of one (`eldoria` of `Bank of Eldoria`): a company, an institution, a place, a
        person. Identifiers (`us-east-1`, `AR4298`), rare lower-case words (`libvarn`,
        `outage`) and shouted common words (`HALF A POINT`) are entities but no proper names:
        they tell which event less surely than a name does, so they never contradict a topic
        (see similarity.features). Single words of seven letters or more are keyed by their
        first six (see name_key), so that `Eldorian` names what `Eldoria` names.
        """
        lowercase, capitalised = _cases(text)
        own = EntityExtractor(
            self.vocabulary,
            self.rare_terms,
            self.lowercase + lowercase if self.lowercase else lowercase,
            self.capitalised + capitalised if self.capitalised else capitalised,
        )
        found: dict[str, None] = {}
        proper: dict[str, None] = {}
        for sentence in _SENTENCES.split(text):
            tokens = _TOKEN.findall(sentence)
            for number, phrase in enumerate(own._phrases(tokens)):
                keys = [name_key(_key(phrase)), *map(name_key, own._components(phrase))]
                if number == 0 and own._leads(tokens, phrase):
                    keys.append(_key([tokens[0], *phrase]))
                found.update(dict.fromkeys(keys))
                if own._proper(phrase):
                    proper.update(dict.fromkeys(keys))
            found.update(dict.fromkeys(name_key(_key([t])) for t in own._rare_terms(tokens)))
        return [key for key in found if key], [key for key in proper if key]

    def _leads(self, tokens: list[str], phrase: list[str]) -> bool:
        """Whether a sentence's capitalised first word, dropped as a common word, may start
        the name that follows it (`Hollow Meridian 2 revealed`: `hollow meridian` beside
        `meridian`, as the name reads mid-sentence)."""
        first = tokens[0] if tokens else ""
        return (
            len(tokens) > len(phrase)
            and tokens[1] == phrase[0]
            and first[0].isupper()
            and first.isalpha()
            and first.casefold() not in COMMON_WORDS
            and phrase[0][0].isupper()
        )

    def _proper(self, phrase: list[str]) -> bool:
        """A name rather than an identifier or a shouted word (see extract_names)."""
        if any(char.isdigit() for token in phrase for char in token):
            return False
        if not any(char.isupper() for char in phrase[0]):
            return False
        if not all(token.isupper() for token in phrase if token not in _CONNECTORS):
            return True
        words = [w for w in (_key([t]) for t in phrase) if len(w) > _ACRONYM_LENGTH]
        return not words or not all(word in self.vocabulary for word in words)

    def _components(self, phrase: list[str]) -> list[str]:
        """The uncommon words of a longer name (`eldoria` of `Bank of Eldoria`), which shorter
        mentions of the same name use."""
        if len(phrase) < 2 or not self.vocabulary:
            return []
        words = [_key([word]) for word in phrase]
        return [w for w in words if w not in COMMON_WORDS and not self._common(w)]

    def _rare_terms(self, tokens: list[str]) -> list[str]:
        if not self.rare_terms or not self.vocabulary:
            return []
        return [token for token in tokens if self._rare(token)]

    def _rare(self, token: str) -> bool:
        """A lower-case word outside the common vocabulary (not a number, not a stop word)."""
        word = _POSSESSIVE.sub("", token)
        if not word.islower() or len(word) < _MIN_RARE_LENGTH or not word[0].isalpha():
            return False
        parts = word.replace("-", " ").split()
        if word in COMMON_WORDS or not all(part.isalpha() for part in parts):
            return False
        return not all(self._common(part) for part in parts)

    def _common(self, word: str) -> bool:
        """In the vocabulary, directly or once an inflection is removed (summits, complains)."""
        stems = [word] + [word[: -len(end)] for end in _INFLECTIONS if word.endswith(end)]
        return any(s in self.vocabulary or s + "e" in self.vocabulary for s in stems)

    def _phrases(self, tokens: list[str]) -> Iterable[list[str]]:
        positional = _title_case(tokens)
        phrase: list[str] = []
        for index, token in enumerate(tokens):
            if self._significant(token, positional or index == 0) and token[0].islower():
                yield from (phrase, [token]) if phrase else ([token],)
                phrase = []
            elif self._significant(token, positional or index == 0):
                phrase.append(token)
                if _POSSESSIVE.search(token):
                    yield phrase
                    phrase = []
            elif phrase and token in _CONNECTORS and self._continues(tokens, index):
                phrase.append(token)
            elif phrase:
                yield phrase
                phrase = []
        if phrase:
            yield phrase

    def _continues(self, tokens: list[str], index: int) -> bool:
        return index + 1 < len(tokens) and _is_capitalised(tokens[index + 1])

    def _significant(self, token: str, positional: bool) -> bool:
        lower = _POSSESSIVE.sub("", token).casefold()
        if _is_strong(token):
            return lower not in _GENERIC
        if not token[0].isupper() or _NUMBERISH.match(token) or lower in COMMON_WORDS:
            return False
        if not positional:
            return True
        if self.capitalised[lower] or self.lowercase[lower]:
            return self.capitalised[lower] >= self.lowercase[lower]
        return lower not in self.vocabulary


@dataclass
class EntityStats:
    """Document frequencies of entities seen so far, for rarity (IDF) weights."""

    documents: int = 0
    frequency: Counter[str] = field(default_factory=Counter)
    unsaved: set[str] = field(default_factory=set, compare=False, repr=False)
    """Entities counted since their frequency was last saved (see changes)."""
    capacity: int = field(default=0, compare=False)
    """Entities counted at most (0: no bound); beyond a quarter more, the rarest, then the
    oldest, are forgotten: the long tail of names seen once or twice, whose weight is
    near the maximum whether counted or not."""

    def observe(self, entities: Iterable[str]) -> None:
        """Count one document holding these entities."""
        seen = set(entities)
        self.documents += 1
        self.frequency.update(seen)
        self.unsaved |= seen
        if self.capacity and len(self.frequency) > self.capacity * 5 // 4:
            self._forget_rarest()

    def _forget_rarest(self) -> None:
        """Drop the rarest entities, oldest first, down to the capacity."""
        rarity = 1
        while len(self.frequency) > self.capacity:
            excess = len(self.frequency) - self.capacity
            rare = [e for e, count in self.frequency.items() if count <= rarity][:excess]
            for entity in rare:
                del self.frequency[entity]
            self.unsaved.update(rare)
            rarity += 1

    def changes(self) -> dict[str, int]:
        """The frequency of every entity counted (or forgotten: 0) since the last
        acknowledged save."""
        return {entity: self.frequency[entity] for entity in self.unsaved}

    def saved(self, frequencies: dict[str, int]) -> None:
        """Acknowledge saved frequencies (an entity counted again since stays unsaved)."""
        for entity, frequency in frequencies.items():
            if self.frequency[entity] == frequency:
                self.unsaved.discard(entity)

    def idf(self, entity: str) -> float:
        """Smoothed inverse document frequency: rare entities weigh more."""
        return math.log((1 + self.documents) / (1 + self.frequency[entity])) + 1.0

    def weights(self, entities: Iterable[str]) -> dict[str, float]:
        """Each entity with its IDF weight."""
        return {entity: self.idf(entity) for entity in entities}

    def state(self) -> dict[str, Any]:
        """A JSON-ready copy of the counts (see restore)."""
        return {"documents": self.documents, "frequency": dict(self.frequency)}

    @classmethod
    def restore(cls, state: dict[str, Any], capacity: int = 0) -> EntityStats:
        """The counts saved by state()."""
        return cls(state["documents"], Counter(state["frequency"]), capacity=capacity)


def profile_similarity(
    first: Mapping[str, float], second: Mapping[str, float], stats: EntityStats
) -> float:
    """Cosine similarity of two entity profiles, each entity weighted by its IDF."""
    dot = sum(first[e] * second[e] * stats.idf(e) ** 2 for e in first.keys() & second.keys())
    norm_first = math.sqrt(sum((v * stats.idf(e)) ** 2 for e, v in first.items()))
    norm_second = math.sqrt(sum((v * stats.idf(e)) ** 2 for e, v in second.items()))
    if norm_first == 0 or norm_second == 0:
        return 0.0
    return dot / (norm_first * norm_second)
