"""Nearest topic centroids: exact while topics are few, an inverted-file index (FAISS) beyond."""

from __future__ import annotations

import math

import faiss
import numpy as np
import numpy.typing as npt

from services.processor.pipeline.embed import Vectors

__all__ = ["IndexSearch", "TopicIndex"]

Rows = npt.NDArray[np.int64]
_TRAIN_PER_LIST = 39
"""Training vectors per inverted list that FAISS's k-means asks for."""
_REBUILD_GROWTH = 4
"""The index is rebuilt (its lists trained anew) once the live topics grew this many times."""

faiss.omp_set_num_threads(1)  # the cluster stage runs on one core


class TopicIndex:
    """The current centroid of every live topic, one row each, searched by cosine.

    Below `ann_min_topics` live topics every search is exact (one matrix product). From
    there on, an inverted-file index (FAISS IndexIVFFlat, inner product, about 4 x sqrt(n)
    lists trained on the centroids, `probes` lists visited per query, over the centroids'
    `reduced` principal axes: a fourth of the arithmetic) holds each centroid as it was when
    last indexed; a search takes the index's `neighbours` best rows and every
    row changed since it was indexed ("fresh"), and scores them exactly against the current
    centroids, so a topic that moved is never judged by its old place. A centroid is
    re-indexed once it drifted below `reindex_cosine` of its indexed copy (at commit(), after
    each batch): a large topic's centroid hardly moves with one more member, so most joins
    cost no index update. The lists are trained anew whenever the topics grew fourfold.
    """

    def __init__(
        self,
        dimension: int,
        *,
        ann_min_topics: int = 4096,
        neighbours: int = 16,
        reindex_cosine: float = 0.98,
        probes: int = 16,
        reduced: int = 96,
    ) -> None:
        self.dimension = dimension
        self.ann_min_topics = ann_min_topics
        self.neighbours = neighbours
        self.reindex_cosine = reindex_cosine
        self.probes = probes
        self.reduced = reduced
        self._projection: Vectors | None = None
        """The principal axes the index works on (dimension x reduced)."""
        self.matrix: Vectors = np.zeros((64, dimension), dtype=np.float32)
        self.ids: list[str | None] = [None] * 64
        self.rows: dict[str, int] = {}
        self._free: list[int] = []
        self._end = 0
        """Rows below this have been used (live or free)."""
        self._index: faiss.IndexIVFFlat | None = None
        self._trained_for = 0
        """Live topics when the lists were last trained."""
        self._indexed: Vectors = np.zeros((64, dimension), dtype=np.float32)
        """Each row's centroid as the index holds it (zero: not in the index)."""
        self._fresh: dict[int, None] = {}
        """Rows the index does not hold where they are (new, reused, or drifted below
        `reindex_cosine` of their indexed copy), in order: searched exactly until commit()."""
        self._fresh_rows: Rows | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def approximate(self) -> bool:
        """True once the inverted-file index is in use (enough live topics)."""
        return self._index is not None

    def put(self, topic_id: str, centroid: Vectors) -> int:
        """Set a topic's current centroid (adding the topic if new); return its row."""
        if centroid.shape[-1] != self.dimension and not self.rows:
            self._reshape(centroid.shape[-1])
        row = self.rows.get(topic_id)
        if row is None:
            row = self._free.pop() if self._free else self._grow()
            self.rows[topic_id] = row
            self.ids[row] = topic_id
        self.matrix[row] = centroid
        if self._index is not None and float(centroid @ self._indexed[row]) < self.reindex_cosine:
            self._mark(row)  # new, or moved too far from where the index holds it
        return row

    def remove(self, topic_id: str) -> None:
        """Forget a topic (its row is reused later)."""
        row = self.rows.pop(topic_id)
        self.ids[row] = None
        self.matrix[row] = 0.0
        if self._index is not None and self._indexed[row].any():
            self._index.remove_ids(np.array([row], dtype=np.int64))  # type: ignore[arg-type]
        self._indexed[row] = 0.0
        if self._fresh.pop(row, 0) is None:
            self._fresh_rows = None
        self._free.append(row)

    def search(self, vectors: Vectors) -> IndexSearch:
        """A search for a batch of vectors (one row each), the index asked once for all."""
        if self._index is None or len(vectors) == 0:
            return IndexSearch(self, None)
        _, found = self._index.search(self._project(vectors), self.neighbours)
        return IndexSearch(self, found.astype(np.int64, copy=False))

    def commit(self) -> None:
        """After a batch: build the index once topics are many (train it anew when they grew
        fourfold); re-index the rows that drifted."""
        if self._index is None or len(self.rows) >= _REBUILD_GROWTH * self._trained_for:
            if len(self.rows) >= self.ann_min_topics:
                self._build()
            else:  # exact search sees every row as it is
                self._fresh.clear()
                self._fresh_rows = None
            return
        fresh = self.fresh_rows()
        agreement = np.einsum("ij,ij->i", self.matrix[fresh], self._indexed[fresh])
        moved = fresh[agreement < self.reindex_cosine]
        indexed = moved[self._indexed[moved].any(axis=1)]
        if len(indexed):
            self._index.remove_ids(indexed)
        if len(moved):
            self._index.add_with_ids(self._project(self.matrix[moved]), moved)
            self._indexed[moved] = self.matrix[moved]
        self._fresh.clear()
        self._fresh_rows = None

    def _build(self) -> None:
        live = self.live_rows()
        lists = max(1, round(4 * math.sqrt(len(live))))
        rng = np.random.default_rng(len(live))
        sample = self.matrix[np.sort(live[rng.permutation(len(live))[: _TRAIN_PER_LIST * lists]])]
        self._projection = _principal_axes(sample, min(self.reduced, self.dimension))
        reduced = self._projection.shape[1]
        quantizer = faiss.IndexFlatIP(reduced)
        index = faiss.IndexIVFFlat(quantizer, reduced, lists, faiss.METRIC_INNER_PRODUCT)
        index.train(self._project(sample))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.nprobe = self.probes
        index.add_with_ids(self._project(self.matrix[live]), live)
        self._indexed[:] = 0.0
        self._indexed[live] = self.matrix[live]
        self._index, self._trained_for = index, len(live)
        self._fresh.clear()
        self._fresh_rows = None

    def _project(self, vectors: Vectors) -> Vectors:
        """Vectors on the index's principal axes (contiguous float32, as FAISS takes them)."""
        assert self._projection is not None
        return np.ascontiguousarray(vectors @ self._projection, dtype=np.float32)

    def _mark(self, row: int) -> None:
        if row not in self._fresh:
            self._fresh[row] = None
            self._fresh_rows = None

    def _grow(self) -> int:
        if self._end == len(self.ids):
            capacity = 2 * len(self.ids)
            self.matrix = _resized(self.matrix, capacity)
            self._indexed = _resized(self._indexed, capacity)
            self.ids.extend([None] * (capacity - len(self.ids)))
        self._end += 1
        return self._end - 1

    def _reshape(self, dimension: int) -> None:
        """Take another vector length (only while empty)."""
        self.dimension = dimension
        self.matrix = np.zeros((len(self.ids), dimension), dtype=np.float32)
        self._indexed = np.zeros((len(self.ids), dimension), dtype=np.float32)

    @property
    def used(self) -> int:
        """Rows in use or freed (those after it were never used)."""
        return self._end

    def live_rows(self) -> Rows:
        """Every row holding a topic, in the order the topics came."""
        return np.fromiter(self.rows.values(), dtype=np.int64, count=len(self.rows))

    def fresh_rows(self) -> Rows:
        """Rows changed since the index last took them."""
        if self._fresh_rows is None:
            self._fresh_rows = np.fromiter(self._fresh, dtype=np.int64, count=len(self._fresh))
        return self._fresh_rows


class IndexSearch:
    """Nearest-topic lookups for one batch: exact, or the index's answers plus fresh rows."""

    def __init__(self, index: TopicIndex, found: Rows | None) -> None:
        self.index = index
        self.found = found

    def near(self, position: int, vector: Vectors, floor: float) -> list[tuple[str, float]]:
        """(topic id, cosine) of the `neighbours` topics closest to the batch's vector at
        `position` among those at least `floor` close (by their current centroids), closest
        first."""
        index = self.index
        if not index.rows:
            return []
        if self.found is None:  # exact: every row in use (free rows are zero, never near)
            rows = np.arange(index.used, dtype=np.int64)
            cosines = index.matrix[: index.used] @ vector
        else:
            found = self.found[position]
            rows = np.concatenate([found[found >= 0], index.fresh_rows()])
            cosines = index.matrix[rows] @ vector
        if not len(rows):
            return []
        keep = np.flatnonzero(cosines >= floor)
        limit = index.neighbours + len(index.fresh_rows())  # enough for `neighbours` topics
        if len(keep) > limit:
            keep = keep[np.argpartition(-cosines[keep], limit - 1)[:limit]]
        order = keep[np.argsort(-cosines[keep], kind="stable")]
        seen: set[str] = set()
        near = []
        for i in order:
            topic_id = index.ids[int(rows[i])]
            if topic_id is not None and topic_id not in seen:
                seen.add(topic_id)
                near.append((topic_id, float(cosines[i])))
                if len(near) == index.neighbours:
                    break
        return near


def _principal_axes(sample: Vectors, count: int) -> Vectors:
    """The `count` directions holding most of the sample's energy (uncentred: inner products
    on them approximate the full ones), as columns: the leading eigenvectors of the
    dimension x dimension second-moment matrix (milliseconds, however many rows)."""
    moments = sample.astype(np.float64).T @ sample.astype(np.float64)
    _, vectors = np.linalg.eigh(moments)  # ascending eigenvalues
    return np.ascontiguousarray(vectors[:, ::-1][:, :count], dtype=np.float32)


def _resized(matrix: Vectors, rows: int) -> Vectors:
    grown = np.zeros((rows, matrix.shape[1]), dtype=matrix.dtype)
    grown[: len(matrix)] = matrix
    return grown
