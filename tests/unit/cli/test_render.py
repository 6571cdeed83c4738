"""trendctl's tables: never wider than the terminal, an identifying value never cut (its column's
common prefix left out and said so, or wrapped), other cells cut to one line; titles of trends
shown; an unknown lag shown as unknown, with its reason."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from streams.operations.cli import render
from streams.operations.inspect import GroupLagView, PartitionLagView, RequestInfo, TrendInfo

LONG_TITLE = (
    "Backdoor found in the libvarn compression library's release tarballs, planted by a "
    "co-maintainer over two years"
)


def _lines(grid: Table | render.FitTable, width: int) -> list[str]:
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


NS = "t3f9a0c1b2d4e."
SERVICES = ("collector", "processor", "maintenance")
REASON = "end offset not read: KafkaTimeoutError: Failed to get offsets by times in 40000 ms"


def _service_groups() -> list[GroupLagView]:
    raw = f"{NS}items.raw"
    unknown = PartitionLagView(raw, 1, 5, None, None, "UNKNOWN", REASON)
    known = PartitionLagView(raw, 0, 10, 13, 3, "WARN")
    at, both = "2026-12-07T03:36:12.123456+00:00", (known, unknown)
    return [
        GroupLagView(f"{NS}trend-stream-collector", "Stable", 1, None, None, both, "UNKNOWN"),
        GroupLagView(f"{NS}trend-stream-processor", "Stable", 2, 120, 100, (known,), "WARN", at),
        GroupLagView(f"{NS}trend-stream-maintenance", "Empty", 0, None, None, (), "NOTFOUND"),
    ]


def _printed(grids: list[render.FitTable], width: int) -> list[str]:
    return [line for grid in grids for line in _lines(grid, width)]


def test_the_lag_table_at_80_columns_tells_the_groups_apart() -> None:
    summary = _lines(render.lag_tables(_service_groups())[0], 80)
    assert all(len(line) <= 80 for line in summary), summary
    rows = {line.split()[0]: line for line in summary if line.split()[:1] != ["group"]}
    assert set(SERVICES) <= set(rows), summary  # each group's own part, whole
    assert not any("…" in line for line in summary), summary
    assert f"group: prefix {NS}trend-stream- left out" in summary[-1]
    assert rows["collector"].split()[1:5] == ["UNKNOWN", "1", "?", "?"]
    assert rows["processor"].split()[1:5] == ["WARN", "2", "120", "100"]
    assert rows["maintenance"].split()[1:5] == ["NOTFOUND", "0", "-", "-"]


def test_a_wide_terminal_shows_whole_group_names_and_every_column() -> None:
    lines = _printed(render.lag_tables(_service_groups()), 250)
    assert all(any(f"{NS}trend-stream-{s}" in line for line in lines) for s in SERVICES)
    assert not any("prefix" in line for line in lines)
    assert any("state" in line and "members" in line for line in lines)
    assert any(REASON in line for line in lines)


def test_an_unknown_partition_shows_no_lag_and_its_reason() -> None:
    lines = _lines(render.lag_tables(_service_groups())[1], 80)
    assert all(len(line) <= 80 for line in lines), lines
    [unknown] = [line for line in lines if "UNKNOWN" in line]
    assert f"{NS}items.raw" in unknown  # one topic: nothing to tell apart, shown whole
    assert unknown.split()[1:4] == ["1", "?", "UNKNOWN"] and "end offset not read" in unknown


def _request(request_id: str) -> RequestInfo:
    return RequestInfo(
        request_id=request_id,
        state="FAILURE",
        plugin="high_frequency",
        worker="collector@host-with-a-long-name:4242",
        updated_at=1_765_000_000.0,
        error="ConnectError: All connection attempts failed " * 3,
        retries=3,
        runtime_s=12.5,
    )


def test_requests_at_80_columns_keep_their_ids_whole() -> None:
    slot = "high_frequency.2026-12-07T03:00:00+00:00"
    ids = [f"{NS}{slot}.{plugin}" for plugin in ("hackernews", "reddit", "mastodon")]
    lines = _lines(render.request_table([_request(i) for i in ids], "requests"), 80)
    assert all(len(line) <= 80 for line in lines), lines
    assert f"request: prefix {NS}{slot}. left out" in "".join(lines[-2:])
    for plugin in ("hackernews", "reddit", "mastodon"):
        assert any(line.startswith(f"{plugin} ") for line in lines), lines
    assert sum("ConnectError" in line for line in lines) == 3  # the error cut, one line each


def test_an_identifying_value_too_wide_for_the_terminal_wraps_whole() -> None:
    ids = ["a" * 50 + "-one", "b" * 50 + "-two"]
    lines = _lines(
        render.table("t", ("id", "note"), [(i, "x" * 40) for i in ids], keep=("id",)), 40
    )
    assert all(len(line) <= 40 for line in lines), lines
    text = "".join(line.split()[0] if line.split() else "" for line in lines)
    assert all(i in text for i in ids), lines  # folded over lines, nothing cut
