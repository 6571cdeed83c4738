"""Topics gone quiet: out of memory but for their centroid, so a returning story finds them."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from services.processor.pipeline.embed import Vectors

__all__ = ["TopicArchive"]


class TopicArchive:
    """The centroids of archived topics (their whole state stays in PostgreSQL).

    A counted topic without new members for `live_topic_hours` leaves the cluster stage's
    memory: its row is marked archived and only its centroid stays here, for `retention`
    (then it is forgotten), at most `capacity` of them (the oldest go first). When a new
    candidate becomes a topic, the archive is asked for a quiet topic it continues: the
    stage then takes that topic back (see ClusterStage.revive).
    """

    def __init__(self, dimension: int, retention: timedelta, capacity: int) -> None:
        self.retention = retention
        self.capacity = capacity
        self.ids: list[str] = []
        self.last_active: list[datetime] = []
        self._matrix: Vectors = np.zeros((16, dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self.ids

    def add(self, topic_id: str, centroid: Vectors, last_active: datetime) -> None:
        """Keep an archived topic's centroid (the oldest one makes room when full)."""
        if topic_id in self.ids:
            self.remove(topic_id)
        if len(self.ids) >= self.capacity:
            self._drop(int(np.argmin([at.timestamp() for at in self.last_active])))
        if centroid.shape[-1] != self._matrix.shape[1] and not self.ids:
            self._matrix = np.zeros((16, centroid.shape[-1]), dtype=np.float32)
        if len(self.ids) == len(self._matrix):
            grown = np.zeros((2 * len(self._matrix), self._matrix.shape[1]), dtype=np.float32)
            grown[: len(self._matrix)] = self._matrix
            self._matrix = grown
        self._matrix[len(self.ids)] = centroid
        self.ids.append(topic_id)
        self.last_active.append(last_active)

    def remove(self, topic_id: str) -> None:
        """Forget a topic (taken back, or deleted)."""
        if topic_id in self.ids:
            self._drop(self.ids.index(topic_id))

    def _drop(self, row: int) -> None:
        last = len(self.ids) - 1
        self._matrix[row] = self._matrix[last]
        self.ids[row], self.last_active[row] = self.ids[last], self.last_active[last]
        self.ids.pop()
        self.last_active.pop()

    def prune(self, now: datetime) -> list[str]:
        """Forget the topics archived longer ago than the retention; return their ids."""
        old = [
            topic_id
            for topic_id, at in zip(self.ids, self.last_active, strict=True)
            if now - at > self.retention
        ]
        for topic_id in old:
            self.remove(topic_id)
        return old

    def entries(self) -> list[tuple[str, Vectors, datetime]]:
        """(topic id, centroid, last active) of every archived topic."""
        rows = zip(self.ids, self._matrix, self.last_active, strict=False)
        return [(topic_id, vector.copy(), at) for topic_id, vector, at in rows]

    def closest(self, vectors: Vectors, floor: float) -> list[list[str]]:
        """For each vector (one per row), the archived topics at least `floor` close to it,
        closest first (one matrix product for all)."""
        if not self.ids:
            return [[] for _ in range(len(vectors))]
        cosines = vectors @ self._matrix[: len(self.ids)].T
        found = []
        for row in cosines:
            close = np.flatnonzero(row >= floor)
            order = close[np.argsort(-row[close], kind="stable")]
            found.append([self.ids[int(i)] for i in order])
        return found
