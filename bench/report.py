"""Bench results: medians, the markdown table every script prints, JSON under bench/results/."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


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
        self, name: str, ratio: str, at_least: float | None = None, below: float | None = None
    ) -> None:
        """Whether a ratio (or figure) meets its target."""
        value = self.ratios.get(ratio, self.median(ratio))
        met = value is not None and (
            (at_least is None or value >= at_least) and (below is None or value < below)
        )
        goal = f">= {at_least}" if at_least is not None else f"< {below}"
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
