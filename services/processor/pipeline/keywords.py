"""Topic keywords and labels by class-based TF-IDF (c-TF-IDF) over member titles."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from services.processor.pipeline.entities import COMMON_WORDS

__all__ = ["class_terms", "class_tfidf", "label_of", "terms", "top_terms", "weigh_terms"]

_WORD = re.compile(r"[^\W_](?:[\w'\u2019.+-]*[^\W_])?")
_NUMBER = re.compile(r"^[\d.,%]+$")
_POSSESSIVE = re.compile(r"['\u2019]s$")


def terms(title: str) -> list[str]:
    """A title's words and two-word phrases, case-folded, without stop words and numbers."""
    words = [_POSSESSIVE.sub("", word.casefold()) for word in _WORD.findall(title)]
    kept = [w for w in words if len(w) > 1 and w not in COMMON_WORDS and not _NUMBER.match(w)]
    bigrams = [f"{a} {b}" for a, b in itertools.pairwise(kept)]
    return kept + bigrams


def class_tfidf(classes: Mapping[str, Iterable[str]], top: int) -> dict[str, list[str]]:
    """The `top` terms of each class (a topic's titles), weighted as in BERTopic's c-TF-IDF.

    Each class's titles form one document; a term weighs tf(t, c) * log(1 + A / f(t)), with
    tf the term's share of the class's terms, f(t) its count over all classes and A the mean
    number of terms per class: frequent in this topic and rare elsewhere ranks first.
    """
    return top_terms({name: class_terms(titles) for name, titles in classes.items()}, top)


def class_terms(titles: Iterable[str]) -> Counter[str]:
    """The term counts of one class's titles (what class_tfidf weighs)."""
    return Counter(t for title in titles for t in terms(title))


def top_terms(
    counts: Mapping[str, Counter[str]], top: int, overall: Counter[str] | None = None
) -> dict[str, list[str]]:
    """class_tfidf from each class's term counts (see class_terms), kept between calls;
    `overall`, when given, is their sum (kept up to date by the caller)."""
    if overall is None:
        overall = Counter()
        for counter in counts.values():
            overall.update(counter)
    average = sum(overall.values()) / max(1, len(counts))
    return {name: weigh_terms(counter, overall, average, top) for name, counter in counts.items()}


def weigh_terms(
    counter: Mapping[str, int], overall: Mapping[str, int], average: float, top: int
) -> list[str]:
    """The `top` terms of one class by c-TF-IDF: `overall` holds the terms' counts over all
    classes (this one included) and `average` the mean number of terms per class."""
    total = sum(counter.values()) or 1
    weights = {
        term: count / total * math.log(1 + average / max(overall.get(term, 0), count))
        for term, count in counter.items()
    }
    return [term for term, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))][:top]


def label_of(keywords: list[str], size: int) -> str:
    """Up to `size` keywords, skipping words already inside a chosen phrase, joined by ' · '."""
    chosen: list[str] = []
    for keyword in keywords:
        if len(chosen) == size:
            break
        words = set(keyword.split())
        if not any(words <= set(other.split()) or set(other.split()) <= words for other in chosen):
            chosen.append(keyword)
    return " · ".join(chosen)
