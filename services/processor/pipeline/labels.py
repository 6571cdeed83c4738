"""Topic labels: keywords by c-TF-IDF over the counted topics' title terms, and the label."""

from __future__ import annotations

from collections.abc import Iterable

from services.processor.pipeline.cluster import OnlineClusterer
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.keywords import label_of, weigh_terms

__all__ = ["Labeller"]


class Labeller:
    """Keeps the keywords and label of every counted topic a batch touched.

    A topic's keywords weigh its own title terms against their sum over all counted topics
    (kept by the clusterer), so labelling costs the same with 100 topics or 100,000.
    """

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config

    def refresh(self, clusterer: OnlineClusterer, touched: Iterable[str]) -> None:
        """New keywords and label for the touched counted topics (a change is recorded)."""
        overall = clusterer.counted_terms
        average = overall.total() / max(1, len(clusterer.counted_ids))
        for topic_id in touched:
            if topic_id not in clusterer.counted_ids:
                continue
            topic = clusterer.topics[topic_id]
            keywords = weigh_terms(topic.terms, overall, average, self.config.keyword_count)
            label = label_of(keywords, self.config.label_keywords)
            if (keywords, label) != (topic.keywords, topic.label):
                topic.keywords, topic.label = keywords, label
                clusterer.touch(topic_id)
