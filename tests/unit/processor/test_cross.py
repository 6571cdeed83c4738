"""The leave-one-corpus-out command's pieces: one-off posts counted, the baseline's threshold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from services.processor.cross import baseline, one_offs
from services.processor.evaluate import Evaluation, Labelled, measure
from streams.messages.records import RawItem


def _labelled(ident: str, story: str) -> Labelled:
    item = RawItem(source="rss", source_id=ident, title=ident, published_at=datetime.now(UTC))
    return Labelled(item, story)


def test_one_off_posts_in_topics_are_the_single_item_stories_there() -> None:
    corpus = [_labelled(str(n), "s") for n in range(3)] + [
        _labelled("x", "noise_x"),
        _labelled("y", "noise_y"),
    ]
    found = measure(["t"] * 4 + ["single:y"], [e.story for e in corpus])
    evaluation = Evaluation(found, {"t": Counter({"s": 3, "noise_x": 1})}, {})
    assert one_offs(corpus, evaluation) == 1


def test_the_baselines_threshold_is_chosen_on_the_fitting_corpora_only() -> None:
    good, bad = measure(["a", "a"], ["s", "s"]), measure(["a", "b"], ["s", "s"])
    table = {
        "fit1": {0.4: good, 0.5: bad},
        "fit2": {0.4: good, 0.5: bad},
        "left": {0.4: bad, 0.5: good},
    }
    assert baseline(table, ["fit1", "fit2"]) == 0.4  # the left-out corpus would prefer 0.5
    assert baseline(table, ["left"]) == 0.5
