"""Recent: a mapping that remembers its newest keys up to a capacity."""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["Recent"]


class Recent(OrderedDict[str, str]):
    """A mapping forgetting its least recently remembered keys beyond a capacity."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    def remember(self, key: str, value: str) -> None:
        """Keep `key` -> `value` as the newest entry; forget the oldest beyond the capacity."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.capacity:
            self.popitem(last=False)
