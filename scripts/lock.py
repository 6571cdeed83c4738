"""Writes the lock, constraints.txt: each package of trend-stream[dev,bench], one version each.

Usage: scripts/lock [--upgrade] [--check]
  (default)   lock what this environment has installed (the resolved set of a
              `pip install -c constraints.txt -e '.[dev,bench]'`, as pip freeze shows it)
  --upgrade   let pip's resolver pick the newest versions PyPI serves within pyproject.toml's
              ranges (`pip install --dry-run --ignore-installed --report`), and lock those;
              then `scripts/setup` installs them
  --check     exit 1 when the installed set differs from the lock (nothing written)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["installed_closure", "main", "render", "resolved_newest"]

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
PROJECT = "trend-stream"
EXTRAS = ("dev", "bench")
TARGET = f".[{','.join(EXTRAS)}]"


def _wanted(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


def installed_closure(project: str = PROJECT, extras: Iterable[str] = EXTRAS) -> dict[str, str]:
    """Every installed distribution project[extras] needs, transitively: name to version."""
    found: dict[str, str] = {}
    pending: list[tuple[str, tuple[str, ...]]] = [(project, tuple(extras))]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        name, wanted_extras = pending.pop()
        if (name, wanted_extras) in seen:
            continue
        seen.add((name, wanted_extras))
        try:
            dist = distribution(name)
        except PackageNotFoundError as missing:
            message = f"lock: {name} is required but not installed: run scripts/setup"
            raise SystemExit(message) from missing
        if canonicalize_name(name) != PROJECT:
            found[canonicalize_name(dist.metadata["Name"])] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            if _wanted(requirement, wanted_extras):
                pending.append((requirement.name, tuple(sorted(requirement.extras))))
    return found


def resolved_newest() -> dict[str, str]:
    """The newest versions pip's resolver picks from the index within pyproject.toml's ranges."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"]
        command += ["--disable-pip-version-check", "--quiet", "--report", str(report)]
        subprocess.run([*command, "-e", TARGET], cwd=ROOT, check=True)
        installs = json.loads(report.read_text())["install"]
    versions: dict[str, str] = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in installs
    }
    versions.pop(PROJECT, None)
    return versions


def render(versions: Mapping[str, str]) -> str:
    """The lock file's text: a header saying how it is used and refreshed, then name==version."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    header = [
        f"# The lock: every package of trend-stream[{','.join(EXTRAS)}], one version each,",
        f"# resolved from PyPI for CPython {python} on Linux (pyproject.toml keeps the ranges).",
        "# Installed in one pip call by scripts/setup (and so CI):",
        f"#   pip install -c constraints.txt -e '{TARGET}'",
        "# Refresh: scripts/lock (what is installed here), --upgrade (newest within range).",
    ]
    lines = [f"{name}=={versions[name]}" for name in sorted(versions)]
    return "\n".join([*header, *lines]) + "\n"


def _pins(text: str) -> dict[str, str]:
    pins = (line.split("==", 1) for line in text.splitlines() if "==" in line)
    return {canonicalize_name(name): version.strip() for name, version in pins}


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/lock", description=__doc__)
    parser.add_argument("--upgrade", action="store_true", help="newest versions within range")
    parser.add_argument("--check", action="store_true", help="exit 1 if installed != lock")
    args = parser.parse_args()
    versions = resolved_newest() if args.upgrade else installed_closure()
    locked = _pins(LOCK.read_text()) if LOCK.exists() else {}
    changed = sorted(
        f"{name} {locked.get(name, '-')} -> {versions.get(name, '-')}"
        for name in set(locked) | set(versions)
        if locked.get(name) != versions.get(name)
    )
    if args.check:
        for change in changed:
            print(f"lock: differs: {change}", file=sys.stderr)
        return 1 if changed else 0
    LOCK.write_text(render(versions))
    for change in changed:
        print(f"lock: {change}")
    print(f"lock: {LOCK.name}: {len(versions)} packages, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
