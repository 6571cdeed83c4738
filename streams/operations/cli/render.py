"""How `trendctl` prints: rich tables of requests, workers, schedules, lag, dead letters, trends."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from streams.messages.records import RequestStatus
from streams.operations.cli.app import out
from streams.operations.inspect import (
    GroupLagView,
    Registered,
    RequestInfo,
    ScheduleInfo,
    TrendInfo,
    WorkerInfo,
    WorkerStats,
)

__all__ = [
    "STATE_STYLES",
    "TREND_STYLES",
    "FitTable",
    "lag_tables",
    "print_json",
    "registered_tables",
    "request_table",
    "schedule_table",
    "stats_table",
    "status_summary",
    "table",
    "timeline_table",
    "trend_table",
    "when",
    "worker_table",
]

COLUMN_GAP = 3
"""Cells between two columns: padding, box.SIMPLE_HEAD's blank divider, padding."""
MIN_COLUMN_WIDTH = 8
"""A column cut to fit the terminal keeps at least this many cells..."""
MIN_SQUEEZED_WIDTH = 12
"""...and a column squeezed first this many, or a fifth of the table's width if more (it
goes on shrinking only after the others)."""
NO_VALUE = frozenset({"", "-", "?"})
"""Cells that hold no value (none, not applicable, unknown): they do not make a column text."""
PREFIX_SEPARATORS = frozenset(".-_:/")
"""Where a common prefix left out of an identifying column may end."""
_NUMBER = re.compile(r"^-?[0-9][0-9.,]*[smx%]?$")
STATE_STYLES = {
    "SUCCESS": "green",
    "FAILURE": "red",
    "REVOKED": "magenta",
    "RETRY": "yellow",
    "STARTED": "cyan",
    "RECEIVED": "blue",
    "PENDING": "dim",
}


def print_json(data: Any) -> None:
    """Machine-readable output: indented JSON on stdout."""
    out.print_json(json.dumps(data, default=str), highlight=False)


def when(epoch: float | None) -> str:
    """An epoch time as `YYYY-MM-DD HH:MM:SS` UTC ('' for none)."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _state(state: str) -> str:
    style = STATE_STYLES.get(state, "")
    return f"[{style}]{state}[/{style}]" if style else state


def table(
    title: str,
    columns: Iterable[str],
    rows: Iterable[Iterable[object]],
    *,
    keep: Collection[str] = (),
    squeeze: Collection[str] = (),
    optional: Sequence[str] = (),
) -> FitTable:
    """A table with a title on the left; each cell printed as text (see FitTable for how it
    fits the terminal). `keep`: the columns that identify a row, never cut."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    return FitTable(title, tuple(columns), cells, frozenset(keep), frozenset(squeeze), optional)


@dataclass(frozen=True)
class FitTable:
    """A table as wide as the console it is printed on at most.

    When the cells do not fit: the columns in `keep`, which identify a row, lose the prefix
    common to all their values (a caption under the table names it); then the `optional`
    columns are left out (in their order) until the rest fit or none is left; then the widest
    other columns are cut with an ellipsis, those in `squeeze` first. A `keep` column is never
    cut: if it still does not fit, it wraps. Every other row is one line.
    """

    title: str
    columns: tuple[str, ...]
    cells: list[list[str]]
    keep: frozenset[str] = frozenset()
    squeeze: frozenset[str] = frozenset()
    optional: Sequence[str] = ()

    def build(self, width: int) -> Table:
        """The rich Table for a console `width` cells wide."""
        headers, cells = list(self.columns), [list(row) for row in self.cells]
        dropped = []
        if _table_width(headers, cells) > width:
            dropped = [
                _drop_prefix(headers, cells, i) for i, h in enumerate(headers) if h in self.keep
            ]
        for name in self.optional:
            if _table_width(headers, cells) <= width or name not in headers:
                continue
            index = headers.index(name)
            del headers[index]
            for row in cells:
                del row[index]
        natural = _natural(headers, cells)
        keep = [i for i, h in enumerate(headers) if h in self.keep]
        order = [
            [i for i, h in enumerate(headers) if h in self.squeeze and i not in keep],
            [i for i, h in enumerate(headers) if h not in self.squeeze and i not in keep],
            keep,
        ]
        widths = _fit(natural, width - COLUMN_GAP * (len(headers) - 1), order)
        grid = Table(
            title=self.title,
            title_justify="left",
            caption="; ".join(note for note in dropped if note) or None,
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        for i, header in enumerate(headers):
            values = [row[i] for row in cells if row[i] not in NO_VALUE]
            numeric = bool(values) and all(_NUMBER.match(value) for value in values)
            grid.add_column(
                header,
                width=widths[i] if widths[i] < natural[i] else None,
                no_wrap=i not in keep,
                overflow="fold" if i in keep else "ellipsis",
                justify="right" if numeric else "left",
            )
        for row in cells:
            grid.add_row(*row)
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.build(options.max_width))


def _natural(headers: list[str], cells: list[list[str]]) -> list[int]:
    """Each column's width without cutting: its widest cell or its header."""
    return [
        max([cell_len(header), *(Text.from_markup(row[i]).cell_len for row in cells)])
        for i, header in enumerate(headers)
    ]


def _table_width(headers: list[str], cells: list[list[str]]) -> int:
    return sum(_natural(headers, cells)) + COLUMN_GAP * (len(headers) - 1)


def common_prefix(values: Iterable[str]) -> str:
    """The longest prefix of all these values that ends at a separator (`.`, `-`, `_`, `:`,
    `/`) and leaves something of each ('' for fewer than two different values: nothing to tell
    apart)."""
    found = [value for value in values if value]
    if len(set(found)) < 2:
        return ""
    first, last = min(found), max(found)
    pairs = enumerate(zip(first, last, strict=False))
    same = next((i for i, (a, b) in pairs if a != b), len(first))
    prefix = first[:same]
    while prefix and (prefix[-1] not in PREFIX_SEPARATORS or min(map(len, found)) <= len(prefix)):
        prefix = prefix[:-1]
    return prefix


def _drop_prefix(headers: list[str], cells: list[list[str]], index: int) -> str:
    """Take the prefix common to a column out of its cells; the caption's note saying so."""
    prefix = common_prefix(row[index] for row in cells)
    if not prefix:
        return ""
    for row in cells:
        row[index] = row[index][len(prefix) :]
    return f"{headers[index]}: prefix {prefix} left out"


def _fit(natural: list[int], available: int, order: list[list[int]]) -> list[int]:
    """Column widths summing to `available` at most: the widest column of the first group
    that can still shrink loses one cell at a time, down to MIN_COLUMN_WIDTH (the first group,
    the squeezed columns, stops at MIN_SQUEEZED_WIDTH until the others are at their least); the
    last group, the columns kept whole, shrinks last, and wraps rather than being cut."""
    widths = list(natural)
    squeezed = max(MIN_SQUEEZED_WIDTH, available // 5)
    squeeze, others, kept = order
    steps = [(squeeze, squeezed), (others, MIN_COLUMN_WIDTH), (squeeze, MIN_COLUMN_WIDTH)]
    for group, floor in [*steps, (kept, MIN_COLUMN_WIDTH)]:
        while sum(widths) > available:
            shrinkable = [i for i in group if widths[i] > floor]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: widths[i])
            widths[widest] -= 1
    return widths


def timeline_table(moments: list[dict[str, Any]]) -> FitTable:
    """The states a request went through."""
    rows = [
        (
            when(m.get("at")),
            _state(str(m.get("state"))),
            m.get("worker"),
            m.get("retries") or "",
            m.get("error") or "",
        )
        for m in moments
    ]
    columns = ("time (UTC)", "state", "worker", "retries", "error")
    return table("timeline", columns, rows, keep=("time (UTC)", "state"))


def status_summary(status: RequestStatus) -> None:
    """One request's final or latest status: state, error and result."""
    out.print(f"{status.request_id} {_state(status.state.value)} {status.plugin}".rstrip())
    if status.error:
        out.print(
            f"error: {status.error_type or ''} {status.error}".replace("  ", " "), markup=False
        )
    if status.eta:
        out.print(f"next attempt: {status.eta.isoformat()}")
    if status.result:
        out.print_json(json.dumps(status.result, default=str), highlight=False)


def request_table(found: list[RequestInfo], title: str) -> FitTable:
    """Requests, one a row."""
    rows = [
        (
            info.request_id,
            _state(info.state),
            info.plugin,
            when(info.updated_at),
            f"{info.runtime_s:.1f}s" if info.runtime_s is not None else "",
            info.retries or "",
            info.worker,
            info.error or "",
        )
        for info in found
    ]
    columns = ("request", "state", "plugin/job", "updated (UTC)", "runtime", "retries", "worker")
    return table(
        f"{title} ({len(found)})",
        (*columns, "error"),
        rows,
        keep=("request",),
        squeeze=("error",),
        optional=("worker", "retries", "runtime"),
    )


def worker_table(found: list[WorkerInfo]) -> FitTable:
    """Each service's worker from its /health."""
    rows = [
        (
            w.service,
            w.url,
            _health(w.status),
            _yes(w.live),
            _yes(w.ready),
            len(w.assignment),
            w.version,
            w.error,
        )
        for w in found
    ]
    columns = ("service", "url", "status", "live", "ready", "partitions", "version", "error")
    return table("workers", columns, rows, keep=("service",), optional=("version", "live"))


def _health(status: str) -> str:
    style = {"ok": "green", "degraded": "yellow"}.get(status, "red")
    return f"[{style}]{status}[/{style}]"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def stats_table(found: list[WorkerStats]) -> Table:
    """Each worker's figures from /metrics."""
    names = (
        "messages_consumed",
        "messages_produced",
        "failures",
        "retries",
        "dead_letters",
        "consumer_lag",
        "processing_mean_s",
        "cpu_seconds",
        "memory_bytes",
        "open_fds",
        "uptime_s",
    )
    grid = Table("figure", *(s.service for s in found), title="stats", title_justify="left")
    for name in names:
        grid.add_row(name, *(_figure(s, name) for s in found))
    grid.add_row("requests", *(_by_state(s.requests) if s.reachable else "" for s in found))
    grid.add_row("error", *(s.error for s in found))
    return grid


def _figure(stats: WorkerStats, name: str) -> str:
    if not stats.reachable:
        return "-"
    value = stats.figures.get(name, 0.0)
    if name == "memory_bytes":
        return f"{value / 2**20:.1f} MiB"
    return f"{value:.3f}" if name in ("processing_mean_s", "cpu_seconds") else f"{value:.0f}"


def _by_state(counts: Mapping[str, float]) -> str:
    return ", ".join(f"{state}={count:.0f}" for state, count in sorted(counts.items()))


def schedule_table(found: list[ScheduleInfo]) -> FitTable:
    """The schedules with their next and last runs."""
    rows = [
        (
            s.service,
            s.job,
            s.runs,
            s.cron or "(off)",
            s.next_run or "",
            s.last_slot or "",
            s.last_status or "",
            s.last_request_id or "",
        )
        for s in found
    ]
    columns = ("service", "schedule", "runs", "cron", "next run", "last slot", "last", "request")
    title = f"schedules ({found[0].timezone if found else 'UTC'})"
    return table(
        title,
        columns,
        rows,
        keep=("schedule",),
        squeeze=("last slot", "next run"),
        optional=("runs", "request"),
    )


def registered_tables(found: Registered) -> list[FitTable]:
    """Plugins, then request kinds."""
    plugins = table(
        "plugins",
        ("plugin", "origin", "enabled"),
        ((p.name, p.origin, _yes(p.enabled)) for p in found.plugins),
        keep=("plugin",),
    )
    kinds = table(
        "request kinds",
        ("topic", "accepts"),
        (
            ("collect.requests", "plugins above, groups: " + ", ".join(found.groups)),
            ("process.requests", ", ".join(found.process_jobs)),
            ("maintenance.requests", ", ".join(found.maintenance_jobs)),
            ("control", ", ".join(found.control_commands)),
        ),
        keep=("topic",),
    )
    return [plugins, kinds]


def lag_tables(found: list[GroupLagView]) -> list[FitTable]:
    """A summary per group, then each group's partitions (an unknown lag shown as `?`, with
    the reason)."""
    summary = table(
        "consumer groups",
        ("group", "status", "state", "members", "total lag", "max lag", "sampled (UTC)"),
        (
            (
                g.group,
                g.status or "-",
                g.state,
                g.members,
                _lag(g.total_lag, bool(g.partitions)),
                _lag(g.max_lag, bool(g.partitions)),
                _iso_when(g.sampled_at),
            )
            for g in found
        ),
        keep=("group",),
        optional=("state",),
    )
    return [summary, *(_partition_table(g) for g in found if g.partitions)]


def _partition_table(group: GroupLagView) -> FitTable:
    columns = ["topic", "partition", "committed", "end", "lag", "status"]
    reasons = any(p.reason for p in group.partitions)
    rows = [
        [
            p.topic,
            p.partition,
            _lag(p.committed),
            _lag(p.end_offset),
            _lag(p.lag),
            p.status or "-",
            *([p.reason or ""] if reasons else []),
        ]
        for p in group.partitions
    ]
    return table(
        group.group,
        [*columns, *(["reason"] if reasons else [])],
        rows,
        keep=("topic", "partition"),
        squeeze=("reason",),
        optional=("committed", "end"),
    )


def _lag(value: int | None, applies: bool = True) -> object:
    """An offset or a lag; `?` when unknown, `-` when there is none to know."""
    if value is not None:
        return value
    return "?" if applies else "-"


def _iso_when(iso: str | None) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM:SS` UTC ('' for none)."""
    return when(datetime.fromisoformat(iso).timestamp()) if iso else ""


def trend_table(found: list[TrendInfo]) -> FitTable:
    """The top trends: rank, state, score, items, keywords and the representative title."""
    rows = (
        (
            position,
            _trend_state(t.state),
            f"{t.score:.2f}",
            t.item_count,
            ", ".join(t.keywords[:4]),
            t.representative_title or t.label or t.topic_id,
        )
        for position, t in enumerate(found, start=1)
    )
    columns = ("#", "state", "score", "items", "keywords", "representative title")
    title = f"top trends ({len(found)})"
    return table(title, columns, rows, keep=("#",), squeeze=("keywords",))


TREND_STYLES = {
    "trending": "bold red",
    "peaking": "yellow",
    "emerging": "green",
    "declining": "cyan",
    "dormant": "dim",
}


def _trend_state(state: str) -> str:
    style = TREND_STYLES.get(state, "")
    return f"[{style}]{state}[/{style}]" if style else state
