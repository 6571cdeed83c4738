"""Realistic RawItems in any number: the labelled corpus replayed week after week, all unique."""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from pathlib import Path

from streams.messages.records import RawItem

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "corpus" / "items.jsonl"
_FIELDS = frozenset(RawItem._options.fields)


def stored_values(
    item: RawItem, digest: str, language: str | None, original: int | None
) -> tuple[object, ...]:
    """The `items` columns the old design's tasks and the same-work processor insert, in order:
    source, source_id, url, title, body, author, published_at, score, comments, content_hash,
    language, request_id, collected_at, duplicate_of."""
    return (
        item.source,
        item.source_id,
        item.url,
        item.title,
        item.text,
        item.author,
        item.published_at,
        item.score,
        item.comments,
        digest,
        language,
        item.request_id,
        item.collected_at,
        original,
    )


@functools.cache
def _corpus() -> tuple[RawItem, ...]:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    items = [RawItem.parse({k: v for k, v in row.items() if k in _FIELDS}) for row in rows]
    return tuple(sorted(items, key=lambda item: item.published_at or item.collected_at))


def corpus() -> list[RawItem]:
    """The corpus items (447 of one week: stories, bursts, noise) in time order."""
    return list(_corpus())


def editions(count: int) -> int:
    """Copies of the corpus (weeks of item time) that `count` bench items span."""
    return -(-count // len(corpus()))


def bench_items(count: int, run: str, first_edition: int = 0) -> list[RawItem]:
    """`count` items: copy k of the corpus is shifted k weeks later and marked "edition k" and
    with the run, so no two items of any runs share a source id or content (each one is
    stored, embedded, clustered; none is an exact duplicate of an earlier round's).

    Rounds of one stream start at the edition after the previous round's (`first_edition`):
    a round replaying week 0 again would be near-duplicates of the first round's items
    (placed as duplicates, not clustered) at times the pipeline's clock has passed.
    """
    base = corpus()
    items = []
    for index in range(count):
        edition, original = divmod(index, len(base))
        edition += first_edition
        item = base[original]
        shift = timedelta(weeks=edition)
        items.append(
            RawItem(
                source=item.source,
                source_id=f"{run}-{edition}-{item.source_id}",
                title=item.title,
                url=item.url,
                text=f"{item.text} (edition {edition}, {run})",
                author=item.author,
                published_at=item.published_at + shift if item.published_at else None,
                score=item.score,
                comments=item.comments,
                engagement=dict(item.engagement),
                collected_at=(item.collected_at or item.published_at) + shift,
                request_id=f"{run}-load",
            )
        )
    return items


def encoded(items: list[RawItem]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each item as the collector publishes it to items.raw."""
    return [(item.key.encode(), item.dumps()) for item in items]
