"""Bench results: medians, the markdown table every script prints, JSON under bench/results/.

`python -m bench.report` prints the latest results (the newest JSON of each benchmark);
`python -m bench.report --docs` writes them into docs/performance.md, between its markers.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS",
    "Figure",
    "Report",
    "docs_section",
    "latest",
    "main",
    "table_of",
    "write_docs",
]

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
START, END = "<!-- bench-results:start -->", "<!-- bench-results:end -->"
_STAMP = re.compile(r"(\d{8}-\d{6})\.json$")


@dataclass
class Figure:
    """One measured figure: every repeat, and what it means."""

    name: str
    unit: str
    values: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


@dataclass
class Report:
    """A bench script's figures, ratios and targets."""

    bench: str
    title: str
    sizes: dict[str, Any]
    repeat: int
    figures: dict[str, Figure] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    series: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Rows measured along a run (a soak's days), kept in the JSON beside the figures."""

    def add(self, name: str, unit: str, value: float, note: str = "") -> None:
        """Record one repeat's value of a figure."""
        figure = self.figures.setdefault(name, Figure(name, unit, note=note))
        figure.values.append(value)

    def median(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return figure.median if figure else None

    def ratio(self, name: str, numerator: str, denominator: str) -> float | None:
        """Median of numerator over median of denominator, recorded under name."""
        top, bottom = self.median(numerator), self.median(denominator)
        value = top / bottom if top is not None and bottom else None
        self.ratios[name] = value
        return value

    def target(
        self,
        name: str,
        ratio: str,
        at_least: float | None = None,
        below: float | None = None,
        at_most: float | None = None,
    ) -> None:
        """Whether a ratio (or figure) meets its target."""
        value = self.ratios.get(ratio, self.median(ratio))
        met = value is not None and (
            (at_least is None or value >= at_least)
            and (below is None or value < below)
            and (at_most is None or value <= at_most)
        )
        if at_least is not None:
            goal = f">= {at_least}"
        else:
            goal = f"< {below}" if below is not None else f"<= {at_most}"
        self.targets[name] = {"of": ratio, "value": value, "goal": goal, "met": met}

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "title": self.title,
            "sizes": self.sizes,
            "repeat": self.repeat,
            "figures": {
                name: {"unit": f.unit, "median": f.median, "values": f.values, "note": f.note}
                for name, f in self.figures.items()
            },
            "ratios": self.ratios,
            "targets": self.targets,
            "notes": self.notes,
            "series": self.series,
        }

    def table(self) -> str:
        return table_of([self.as_json()])

    def save(self, path: Path | None = None) -> Path:
        """Write the JSON (bench/results/<bench>-<timestamp>.json unless a path is given)."""
        path = path or RESULTS / f"{self.bench}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2))
        return path


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table_of(reports: Sequence[Mapping[str, Any]]) -> str:
    """One markdown table of the figures, ratios and targets of these reports (their JSON)."""
    lines = ["| bench | measure | median | unit | runs |", "| --- | --- | --- | --- | --- |"]
    for report in reports:
        for name, figure in report["figures"].items():
            runs = ", ".join(_number(v) for v in figure["values"])
            median, unit = _number(figure["median"]), figure["unit"]
            measure = f"{name}: {figure['note']}" if figure.get("note") else name
            lines.append(f"| {report['bench']} | {measure} | {median} | {unit} | {runs} |")
        for name, value in report["ratios"].items():
            lines.append(f"| {report['bench']} | {name} | {_number(value)} | ratio | |")
    targets = [(r["bench"], n, t) for r in reports for n, t in r["targets"].items()]
    if targets:
        lines += ["", "| target | value | goal | met |", "| --- | --- | --- | --- |"]
        for bench, name, t in targets:
            met = "yes" if t["met"] else "**no**"
            lines.append(f"| {bench}: {name} | {_number(t['value'])} | {t['goal']} | {met} |")
    return "\n".join(lines)


def _reports_in(path: Path) -> list[dict[str, Any]]:
    """The reports of one results file: a run's list, or one script's report."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    reports = data.get("reports", [data]) if isinstance(data, dict) else []
    tiny = data.get("tiny") if isinstance(data, dict) else None
    kept = [dict(r) for r in reports if isinstance(r, dict) and "bench" in r and "figures" in r]
    for report in kept:
        report.setdefault("tiny", tiny)
    return kept


def latest(results: Path = RESULTS) -> list[dict[str, Any]]:
    """The newest report of each benchmark in results/, each with the stamp of its file."""
    newest: dict[str, dict[str, Any]] = {}
    for path in sorted(results.glob("*.json")):
        match = _STAMP.search(path.name)
        stamp = (
            match.group(1)
            if match
            else time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        )
        for report in _reports_in(path):
            report["stamp"] = stamp
            if report["bench"] not in newest or newest[report["bench"]]["stamp"] <= stamp:
                newest[report["bench"]] = report
    return sorted(newest.values(), key=lambda report: report["stamp"])


def _when(stamp: str) -> str:
    day, clock = stamp.split("-")
    return f"{day[:4]}-{day[4:6]}-{day[6:]} {clock[:2]}:{clock[2:4]}"


def docs_section(reports: Sequence[Mapping[str, Any]]) -> str:
    """The generated part of docs/performance.md: which runs, then their one table."""
    lines = ["| bench | what | run | repeats | sizes |", "| --- | --- | --- | --- | --- |"]
    for report in reports:
        sizes = ", ".join(f"{name} {value}" for name, value in report.get("sizes", {}).items())
        tiny = " (tiny)" if report.get("tiny") else ""
        lines.append(
            f"| {report['bench']} | {report.get('title', '')} | {_when(report['stamp'])}{tiny} "
            f"| {report.get('repeat', '')} | {sizes} |"
        )
    return "\n".join([*lines, "", table_of(reports)])


def write_docs(reports: Sequence[Mapping[str, Any]], docs: Path = DOCS) -> bool:
    """Replace the text between the markers of docs; True when it changed."""
    text = docs.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"bench.report: {docs} has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{docs_section(reports)}\n{END}{tail}"
    if new == text:
        return False
    docs.write_text(new)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parse.add_argument("--docs", action="store_true", help=f"write them into {DOCS.name}")
    parse.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON results")
    parse.add_argument("--docs-path", type=Path, default=DOCS, help=argparse.SUPPRESS)
    args = parse.parse_args(argv)
    reports = latest(args.results)
    if not reports:
        print(
            f"bench.report: no results in {args.results}: run `python bench/run.py` first "
            "(nothing written)",
            file=sys.stderr,
        )
        return 1
    if not args.docs:
        print(docs_section(reports))
        return 0
    changed = write_docs(reports, args.docs_path)
    print(f"bench.report: {args.docs_path} {'written' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
