"""The replay's pure parts: the clock of each step, the live line, the status line's text."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta

from streams.demo.live import LiveLine
from streams.demo.replay import DemoStats, Progress, step_clocks

START = datetime(2026, 11, 23, 5, tzinfo=UTC)


def test_steps_start_one_step_in_and_end_exactly_at_the_end() -> None:
    end = START + timedelta(hours=165)
    clocks = step_clocks(START, end, timedelta(hours=6))
    assert clocks[0] == START + timedelta(hours=6) and clocks[-1] == end
    assert len(clocks) == 28
    gaps = {later - earlier for earlier, later in itertools.pairwise(clocks)}
    assert gaps == {timedelta(hours=6), timedelta(hours=3)}  # the last step is the rest
    assert step_clocks(START, START, timedelta(hours=6)) == []


def test_the_status_line_names_what_the_issue_asks_for() -> None:
    progress = Progress(
        clock=START,
        step=3,
        steps=28,
        collected=42,
        stats=DemoStats(stored=40, processed=37, topics=5, trending=1),
        updates=9,
        went_trending=2,
        elapsed_s=12.4,
    )
    line = progress.line()
    assert line.startswith("demo: Mon 23 Nov 05:00 (3/28)")
    for part in ("collected 42", "processed 37", "topics 5", "trending 1 now, 2 so far"):
        assert part in line


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_the_status_is_printed_now_and_then_and_lines_always() -> None:
    stream = io.StringIO()
    live = LiveLine(stream, every_s=3600)
    live.update("one")
    live.update("two")  # within every_s: not printed
    live.say("an event")
    live.done("last")
    assert stream.getvalue().splitlines() == ["one", "an event", "last"]


def test_on_a_terminal_the_status_is_rewritten_in_place() -> None:
    stream = _Tty()
    live = LiveLine(stream)
    live.update("one")
    live.update("two")
    live.say("an event")
    live.done("last")
    assert stream.getvalue() == ("\r\033[Kone\r\033[Ktwo\r\033[Kan event\ntwo\r\033[Klast\n")
