"""`python -m bench.footprint`: the installed size of each embedding backend's packages.

For each backend extra of pyproject.toml (torch, onnx): the distributions it adds to
trend-stream's own dependencies, transitively, as installed here (markers evaluated for this
Python), and the bytes of the files their RECORDs list: what `du --apparent-size` counts of
them in site-packages. Nothing is installed or downloaded.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("torch", "onnx")
TOP = 6
"""Largest distributions named per backend."""


def closure(requirements: Iterable[str]) -> set[str]:
    """Every installed distribution the requirements need, transitively (canonical names)."""
    found: set[str] = set()
    seen: set[tuple[str, str]] = set()
    pending = [(Requirement(line), "") for line in requirements]
    while pending:
        requirement, extra = pending.pop()
        name = canonicalize_name(requirement.name)
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # not installed here: nothing of it to count
        found.add(name)
        for wanted in {"", *requirement.extras} - {e for n, e in seen if n == name}:
            seen.add((name, wanted))
            pending += [(Requirement(line), wanted) for line in dist.requires or []]
    return found


def size_mb(name: str) -> float:
    """Megabytes of the distribution's installed files (its RECORD's sizes)."""
    files = distribution(name).files or []
    return sum(int(file.size or 0) for file in files) / 1e6


def main() -> int:
    """Print each backend's added distributions and their installed size."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = closure(project["dependencies"])
    print(
        f"trend-stream's own dependencies: {len(core)} distributions, "
        f"{sum(size_mb(name) for name in core):,.0f} MB"
    )
    for backend in BACKENDS:
        added = closure([*project["dependencies"], *project["optional-dependencies"][backend]])
        added -= core
        sizes = sorted(((size_mb(name), name) for name in added), reverse=True)
        largest = ", ".join(f"{name} {size:,.0f}" for size, name in sizes[:TOP])
        total = sum(size for size, _ in sizes)
        print(f"[{backend}] adds {len(added)} distributions, {total:,.0f} MB: {largest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
