"""Topic labels: keywords by c-TF-IDF over the counted topics' title terms, and the label."""

from __future__ import annotations

from collections.abc import Iterable

from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.keywords import label_of, weigh_terms
from services.processor.pipeline.memory import CountedTopics

__all__ = ["Labeller"]


class Labeller:
    """Keeps the keywords and label of every counted topic a batch touched.

    A topic's keywords weigh its own title terms against their sum over all counted topics
    (kept by the topic memory), so labelling costs the same with 100 topics or 100,000. It
    reads the topics as CountedTopics and changes them only through relabel.
    """

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    def refresh(self, topics: CountedTopics, touched: Iterable[str]) -> None:
        """New keywords and label for the touched counted topics (a change is recorded)."""
        overall = topics.counted_terms
        average = sum(overall.values()) / max(1, topics.counted_size())
        for topic in topics.counted_of(touched):
            keywords = weigh_terms(topic.terms, overall, average, self.config.keyword_count)
            label = label_of(keywords, self.config.label_keywords)
            if (keywords, label) != (topic.keywords, topic.label):
                topics.relabel(topic.topic_id, keywords, label)
