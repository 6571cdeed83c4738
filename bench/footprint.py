"""`python -m bench.footprint`: the installed size of each embedding backend's packages.

For each backend extra of pyproject.toml (torch, onnx): the distributions it adds to
trend-stream's own dependencies, transitively, as installed here (markers evaluated for this
Python), and the size of the site-packages folders and files they installed (the first part of
each path their RECORDs list; bytecode compiled since included): what `du -s --apparent-size`
counts of them. Nothing is installed or downloaded.
"""

from __future__ import annotations

import os
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


def installed(names: Iterable[str]) -> set[Path]:
    """The site-packages folders and files the distributions installed (scripts left out)."""
    found: set[Path] = set()
    for name in names:
        dist = distribution(name)
        for file in dist.files or []:
            first = file.parts[0]
            if first not in {"..", "__pycache__"} and not first.endswith(".dist-info"):
                found.add(Path(str(dist.locate_file(first))))
    return found


def size_mb(paths: Iterable[Path]) -> float:
    """Megabytes of the files at or under the paths (apparent sizes)."""
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_size
        for folder, _, files in os.walk(path):
            total += sum((Path(folder) / file).stat().st_size for file in files)
    return total / 1e6


def main() -> int:
    """Print each backend's added distributions and their installed size."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = closure(project["dependencies"])
    print(f"trend-stream's own: {len(core)} distributions, {size_mb(installed(core)):,.0f} MB")
    for backend in BACKENDS:
        added = closure([*project["dependencies"], *project["optional-dependencies"][backend]])
        paths = installed(added - core) - installed(core)
        sizes = sorted(((size_mb([path]), path.name) for path in paths), reverse=True)
        largest = ", ".join(f"{name} {size:,.0f}" for size, name in sizes[:TOP])
        total = sum(size for size, _ in sizes)
        print(f"[{backend}] adds {len(added - core)} distributions, {total:,.0f} MB ({largest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
