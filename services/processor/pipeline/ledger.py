"""The change ledger: which topics changed or went since the last save, and their order."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ChangeLedger", "Pending"]


@dataclass(frozen=True)
class Pending:
    """What the ledger lists as unsaved at one moment (see ChangeLedger.pending)."""

    changed: list[tuple[int, str]]
    """(position, topic id) of each topic changed since its last save."""
    removed: list[str]
    archived: list[str]
    """Topics that left memory but stay saved (see TopicArchive)."""
    versions: dict[str, int] = field(repr=False)
    """The change count of each topic listed, to acknowledge exactly these changes."""


class ChangeLedger:
    """Counts changes per topic so that a save acknowledges exactly what it wrote.

    A topic changed again while its save was in flight stays pending. Each topic also keeps
    a position (increasing with insertion) so that a restored clusterer holds its topics in
    the order the saving one did.
    """

    def __init__(self) -> None:
        self._changed: dict[str, int] = {}
        self._removed: dict[str, int] = {}
        self._archived: dict[str, int] = {}
        self._count = 0
        self._positions: dict[str, int] = {}
        self._next = 0

    def place(self, topic_id: str, position: int | None = None) -> None:
        """Give a topic the next position (or a saved one, when restoring)."""
        position = self._next if position is None else position
        self._positions[topic_id] = position
        self._next = max(self._next, position + 1)

    def position(self, topic_id: str) -> int:
        """A topic's position (a topic never placed gets the next one)."""
        if topic_id not in self._positions:
            self.place(topic_id)
        return self._positions[topic_id]

    def touch(self, topic_id: str) -> None:
        """Record that a topic changed (it is listed by the next pending())."""
        self._count += 1
        self._changed[topic_id] = self._count
        self._removed.pop(topic_id, None)
        self._archived.pop(topic_id, None)

    def remove(self, topic_id: str) -> None:
        """Record that a topic is gone."""
        self._leave(topic_id, self._removed)

    def archive(self, topic_id: str) -> None:
        """Record that a topic left memory, its saved state kept (archived)."""
        self._leave(topic_id, self._archived)

    def _leave(self, topic_id: str, into: dict[str, int]) -> None:
        self._count += 1
        for pending in (self._changed, self._removed, self._archived):
            pending.pop(topic_id, None)
        self._positions.pop(topic_id, None)
        into[topic_id] = self._count

    def pending(self) -> Pending:
        """The topics changed or removed since their last acknowledged save."""
        changed = [(self.position(topic_id), topic_id) for topic_id in self._changed]
        versions = {**self._changed, **self._removed, **self._archived}
        return Pending(changed, list(self._removed), list(self._archived), versions)

    def saved(self, versions: dict[str, int]) -> None:
        """Acknowledge a save: topics changed again since are still pending."""
        for topic_id, version in versions.items():
            for pending in (self._changed, self._removed, self._archived):
                if pending.get(topic_id) == version:
                    del pending[topic_id]
