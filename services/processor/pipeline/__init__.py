"""The processor's trend pipeline: normalize, dedupe, embed, cluster into topics, score trends."""

from services.processor.pipeline.cluster import Member, OnlineClusterer, TopicState
from services.processor.pipeline.clustering import ClusterStage
from services.processor.pipeline.config import PipelineConfig
from services.processor.pipeline.embed import (
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    embedder_for,
    load_embedder,
)
from services.processor.pipeline.enrich import Enriched, Enricher
from services.processor.pipeline.normalize import DropReason, NormalizedItem, normalize
from services.processor.pipeline.pipeline import Pipeline
from services.processor.pipeline.results import (
    BatchResult,
    ItemOutcome,
    StateChanges,
    TopicSnapshot,
    TrendSnapshot,
)
from services.processor.pipeline.scoring import Activity, TrendPoint, trend_timeline

__all__ = [
    "Activity",
    "BatchResult",
    "ClusterStage",
    "DropReason",
    "Embedder",
    "Enriched",
    "Enricher",
    "HashingEmbedder",
    "ItemOutcome",
    "Member",
    "NormalizedItem",
    "OnlineClusterer",
    "Pipeline",
    "PipelineConfig",
    "SentenceTransformerEmbedder",
    "StateChanges",
    "TopicSnapshot",
    "TopicState",
    "TrendPoint",
    "TrendSnapshot",
    "embedder_for",
    "load_embedder",
    "normalize",
    "trend_timeline",
]
