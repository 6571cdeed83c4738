"""A live status line: rewritten in place on a terminal, printed now and then elsewhere."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["LiveLine"]


class LiveLine:
    """The latest status on one line; other lines are printed above it."""

    def __init__(self, stream: TextIO = sys.stdout, every_s: float = 10.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        """Off a terminal: the least time between two printed status lines."""
        self._shown = ""
        self._printed_at: float | None = None

    def update(self, line: str, *, force: bool = False) -> None:
        """Show `line` as the status (off a terminal: when `every_s` passed, or forced)."""
        if self.tty:
            self._shown = line
            self.stream.write(f"\r\033[K{line}")
            self.stream.flush()
        elif (
            force or self._printed_at is None or time.monotonic() - self._printed_at >= self.every_s
        ):
            self._printed_at = time.monotonic()
            self.stream.write(f"{line}\n")
            self.stream.flush()

    def say(self, line: str) -> None:
        """Print a line above the status."""
        if self.tty:
            self.stream.write(f"\r\033[K{line}\n{self._shown}")
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def done(self, line: str) -> None:
        """Replace the status with a last line, and end it."""
        if self.tty:
            self.stream.write(f"\r\033[K{line}\n")
            self.stream.flush()
            self._shown = ""
        else:
            self.update(line, force=True)
