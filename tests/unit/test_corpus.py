"""The labelled corpora for clustering and burst detection meet the requirements they are built to.

Both corpora are checked: the tuning corpus (`CORPUS`) with its own numbers, and the held-out
corpus (`HELDOUT`, another week, written independently of the algorithm) with stricter ones.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.support.corpus import (
    CORPUS,
    HELDOUT,
    LabelledItem,
    StoryInfo,
    load_corpus,
    load_stories,
)

WINDOW = timedelta(hours=6)
WINDOWS = 28
SOURCES = {"hackernews", "reddit", "rss", "mastodon"}
SOURCE_ID_SHAPES = {
    "hackernews": r"\d+",
    "reddit": r"t3_[0-9a-z]+",
    "mastodon": r"\d{15,}",
}


@dataclass(frozen=True)
class Requirements:
    """What one corpus is built to: its week and the numbers it must reach."""

    name: str
    folder: Path
    week_start: datetime
    min_items: int
    max_items: int | None
    min_stories: int
    min_noise: int
    min_pairs: int
    min_bursts: int
    min_steady: int
    pairs_share_days: bool  # the two members of a pair overlap in days

    @property
    def week_end(self) -> datetime:
        return self.week_start + timedelta(days=7)


REQUIREMENTS = [
    Requirements(
        name="corpus",
        folder=CORPUS,
        week_start=datetime(2026, 11, 16, tzinfo=UTC),
        min_items=420,
        max_items=None,
        min_stories=16,
        min_noise=48,
        min_pairs=3,
        min_bursts=2,
        min_steady=4,
        pairs_share_days=False,
    ),
    Requirements(
        name="heldout",
        folder=HELDOUT,
        week_start=datetime(2026, 10, 5, tzinfo=UTC),
        min_items=400,
        max_items=460,
        min_stories=18,
        min_noise=60,
        min_pairs=8,
        min_bursts=2,
        min_steady=8,
        pairs_share_days=True,
    ),
]


@pytest.fixture(scope="module", params=REQUIREMENTS, ids=lambda spec: spec.name)
def spec(request: pytest.FixtureRequest) -> Requirements:
    return request.param


@pytest.fixture(scope="module")
def corpus(spec: Requirements) -> list[LabelledItem]:
    return load_corpus(spec.folder / "items.jsonl")


@pytest.fixture(scope="module")
def stories(spec: Requirements) -> dict[str, StoryInfo]:
    return load_stories(spec.folder / "stories.json")


@pytest.fixture(scope="module")
def by_label(corpus: list[LabelledItem]) -> dict[str, list[LabelledItem]]:
    groups: dict[str, list[LabelledItem]] = defaultdict(list)
    for entry in corpus:
        groups[entry.label].append(entry)
    return dict(groups)


def window_of(entry: LabelledItem, week_start: datetime) -> int:
    assert entry.item.published_at is not None
    return (entry.item.published_at - week_start) // WINDOW


def window_counts(entries: list[LabelledItem], week_start: datetime) -> list[int]:
    counts = Counter(window_of(entry, week_start) for entry in entries)
    return [counts.get(index, 0) for index in range(WINDOWS)]


def words(entry: LabelledItem) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", f"{entry.item.title} {entry.item.text}".lower()))


def test_corpus_is_large_enough(spec: Requirements, corpus: list[LabelledItem]) -> None:
    assert len(corpus) >= spec.min_items
    if spec.max_items is not None:
        assert len(corpus) <= spec.max_items


def test_both_corpora_load_from_their_folders() -> None:
    for spec in REQUIREMENTS:
        from_folder = [(entry.item.key, entry.label) for entry in load_corpus(spec.folder)]
        from_file = load_corpus(spec.folder / "items.jsonl")
        assert from_folder == [(entry.item.key, entry.label) for entry in from_file]
        assert load_stories(spec.folder) == load_stories(spec.folder / "stories.json")


def test_every_item_is_a_raw_item_published_in_the_week(
    spec: Requirements, corpus: list[LabelledItem]
) -> None:
    for entry in corpus:
        item = entry.item
        assert item.source in SOURCES, item.key
        assert item.title, item.key
        assert item.published_at is not None, item.key
        assert item.published_at.tzinfo is not None, item.key
        assert spec.week_start <= item.published_at < spec.week_end, item.key
        assert item.url is not None, item.key
        host = urlparse(item.url).hostname or ""
        assert item.url.startswith("https://"), item.key
        assert host == "example.org" or host.endswith(".example.org"), item.key


def test_source_ids_are_unique_per_source(corpus: list[LabelledItem]) -> None:
    keys = Counter(entry.item.key for entry in corpus)
    assert [key for key, count in keys.items() if count > 1] == []


def test_source_ids_are_shaped_like_the_sites_ids(corpus: list[LabelledItem]) -> None:
    for entry in corpus:
        item = entry.item
        if item.source == "rss":
            assert item.source_id == item.url, item.key
        else:
            assert re.fullmatch(SOURCE_ID_SHAPES[item.source], item.source_id), item.key


def test_every_source_is_represented(corpus: list[LabelledItem]) -> None:
    counts = Counter(entry.item.source for entry in corpus)
    assert set(counts) == SOURCES
    assert min(counts.values()) >= 60


def test_rss_items_carry_no_engagement_numbers(corpus: list[LabelledItem]) -> None:
    for entry in corpus:
        item = entry.item
        if item.source == "rss":
            assert item.score is None, item.key
            assert item.comments is None, item.key
        else:
            assert item.score is not None and item.score >= 0, item.key
            assert item.comments is not None and item.comments >= 0, item.key


def test_titles_are_not_repeated(corpus: list[LabelledItem]) -> None:
    titles = Counter(entry.item.title.casefold() for entry in corpus)
    assert [title for title, count in titles.items() if count > 1] == []


def test_stories_are_many_and_each_has_enough_items(
    spec: Requirements, corpus: list[LabelledItem], by_label: dict[str, list[LabelledItem]]
) -> None:
    story_labels = {entry.label for entry in corpus if entry.kind == "story"}
    assert len(story_labels) >= spec.min_stories
    for label in story_labels:
        assert len(by_label[label]) >= 12, label


def test_noise_items_are_one_offs_with_their_own_labels(
    spec: Requirements, corpus: list[LabelledItem], by_label: dict[str, list[LabelledItem]]
) -> None:
    noise = [entry for entry in corpus if entry.kind == "noise"]
    assert len(noise) >= spec.min_noise
    for entry in noise:
        assert re.fullmatch(r"noise-\d{2,}", entry.label), entry.label
        assert len(by_label[entry.label]) == 1, entry.label
    days = {window_of(entry, spec.week_start) // 4 for entry in noise}
    assert days == set(range(7)), "noise is spread over every day of the week"


def test_labels_do_not_mix_kinds(by_label: dict[str, list[LabelledItem]]) -> None:
    for label, entries in by_label.items():
        assert len({entry.kind for entry in entries}) == 1, label
        is_noise = label.startswith("noise-")
        assert all((entry.kind == "noise") == is_noise for entry in entries), label


def test_manifest_lists_exactly_the_stories(
    corpus: list[LabelledItem], stories: dict[str, StoryInfo]
) -> None:
    story_labels = {entry.label for entry in corpus if entry.kind == "story"}
    assert set(stories) == story_labels
    for label, story in stories.items():
        assert story.summary, label
        if story.kind == "burst":
            assert story.burst_at is not None, label
            assert story.burst_at.tzinfo is not None, label
        else:
            assert story.burst_at is None, label
        if story.confuses_with is not None:
            assert story.confuses_with in stories, label


def test_confuser_pairs_are_mutual(spec: Requirements, stories: dict[str, StoryInfo]) -> None:
    pairs = set()
    for label, story in stories.items():
        if story.confuses_with is None:
            continue
        assert story.confuses_with != label
        assert stories[story.confuses_with].confuses_with == label, label
        pairs.add(frozenset({label, story.confuses_with}))
    assert len(pairs) >= spec.min_pairs


def test_each_confuser_has_a_name_its_partner_never_uses(
    stories: dict[str, StoryInfo], by_label: dict[str, list[LabelledItem]]
) -> None:
    for label, story in stories.items():
        if story.confuses_with is None:
            continue
        own = [words(entry) for entry in by_label[label]]
        partner = set().union(*(words(entry) for entry in by_label[story.confuses_with]))
        distinctive = {
            word
            for word in set().union(*own) - partner
            if len(word) >= 4 and sum(word in item for item in own) >= 0.75 * len(own)
        }
        assert distinctive, f"{label}: no name in most of its items that its partner lacks"


def test_confuser_pairs_are_distinct_events_of_one_week(
    spec: Requirements,
    stories: dict[str, StoryInfo],
    by_label: dict[str, list[LabelledItem]],
) -> None:
    for label, story in stories.items():
        if story.confuses_with is None:
            continue
        mine = [window_of(entry, spec.week_start) for entry in by_label[label]]
        theirs = [window_of(entry, spec.week_start) for entry in by_label[story.confuses_with]]
        own = statistics.median(mine)
        other = statistics.median(theirs)
        assert own != other, f"{label} and {story.confuses_with} peak in the same window"
        if spec.pairs_share_days:
            first = max(min(mine), min(theirs)) // 4
            last = min(max(mine), max(theirs)) // 4
            assert first <= last, f"{label} and {story.confuses_with} share no day"


def test_bursting_stories_jump_tenfold_over_their_baseline(
    spec: Requirements,
    stories: dict[str, StoryInfo],
    by_label: dict[str, list[LabelledItem]],
) -> None:
    bursts = [label for label, story in stories.items() if story.kind == "burst"]
    assert len(bursts) >= spec.min_bursts
    for label in bursts:
        burst_at = stories[label].burst_at
        assert burst_at is not None
        offset = burst_at - spec.week_start
        assert offset % WINDOW == timedelta(0), f"{label}: burst_at starts a 6-hour window"
        assert offset >= timedelta(days=2), f"{label}: at least two days of baseline"
        start = offset // WINDOW
        assert start + 2 <= WINDOWS, label
        counts = window_counts(by_label[label], spec.week_start)
        baseline = max(1.0, statistics.mean(counts[:start]))
        assert max(counts[:start]) <= 2, f"{label}: the baseline is low"
        for index in (start, start + 1):
            assert counts[index] >= 10 * baseline, (label, index, counts[index], baseline)


def test_steady_stories_keep_an_even_pace(
    spec: Requirements,
    stories: dict[str, StoryInfo],
    by_label: dict[str, list[LabelledItem]],
) -> None:
    steady = [label for label, story in stories.items() if story.kind == "steady"]
    assert len(steady) >= spec.min_steady
    for label in steady:
        counts = window_counts(by_label[label], spec.week_start)
        assert max(counts) <= 2 * statistics.median(counts), (label, counts)
        assert sum(1 for count in counts if count) >= 20, (label, counts)
