"""trendctl's tables: one line per row, never wider than the terminal, titles of trends shown."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from streams.operations.cli import render
from streams.operations.inspect import TrendInfo

LONG_TITLE = (
    "Backdoor found in the libvarn compression library's release tarballs, planted by a "
    "co-maintainer over two years"
)


def _lines(grid: Table, width: int) -> list[str]:
    console = Console(width=width, color_system=None, highlight=False)
    with console.capture() as captured:
        console.print(grid)
    return captured.get().splitlines()


def _trend(rank: int, state: str, title: str, label: str = "") -> TrendInfo:
    return TrendInfo(
        rank=rank,
        topic_id=f"topic-{rank}",
        label=label,
        state=state,
        score=123.456 / rank,
        item_count=40 - rank,
        velocity=1.0,
        z_score=3.2,
        keywords=("libvarn", "backdoor", "tarball", "maintainer", "release"),
        updated_at="2026-11-22T22:00:00+00:00",
        representative_title=title,
    )


def test_trends_fit_80_columns_one_line_each_with_their_titles() -> None:
    found = [_trend(1, "trending", LONG_TITLE), _trend(2, "declining", "Aurora over Rome")]
    lines = _lines(render.trend_table(found), width=80)
    assert all(len(line) <= 80 for line in lines), lines
    header, rows = lines[1], [line for line in lines if line.lstrip()[:1].isdigit()]
    assert "representative title" in header and "keywords" in header
    assert len(rows) == 2, lines  # one line per trend: cut, not wrapped
    assert "trending" in rows[0] and "123.46" in rows[0]
    assert "Backdoor found in the libvarn" in rows[0]
    assert rows[0].rstrip().endswith("…")
    assert "Aurora over Rome" in rows[1] and "declining" in rows[1]


def test_a_wide_terminal_shows_everything() -> None:
    lines = _lines(render.trend_table([_trend(1, "trending", LONG_TITLE)]), width=250)
    assert any(LONG_TITLE in line for line in lines)
    assert any("libvarn, backdoor, tarball, maintainer" in line for line in lines)


def test_a_trend_without_a_title_shows_its_label() -> None:
    lines = _lines(render.trend_table([_trend(1, "emerging", "", label="nimbus outage")]), 80)
    assert any("nimbus outage" in line for line in lines)


def test_a_too_wide_table_drops_optional_columns_then_cuts_the_widest() -> None:
    columns = ("request", "state", "worker", "error")
    rows = [("req-0123456789abcdef.hackernews", "FAILURE", "collector@host:1", "x" * 120)]
    lines = _lines(render.table("t", columns, rows, keep=("request",), optional=("worker",)), 60)
    assert all(len(line) <= 60 for line in lines)
    assert "worker" not in lines[1] and "collector@host" not in "".join(lines)
    assert any("req-0123456789abcdef.hackernews" in line for line in lines)  # kept whole
    assert sum("xxxx" in line for line in lines) == 1  # the error is cut, on one line


def test_numbers_are_right_aligned() -> None:
    lines = _lines(render.table("t", ("name", "count"), [("a", 5), ("b", 1234)]), 80)
    assert lines[-2].endswith("   5") or lines[-2].rstrip().endswith(" 5")
    assert lines[-1].rstrip().endswith("1234")
    assert lines[-2].rstrip().index("5") == lines[-1].rstrip().index("4")
