"""The lock, constraints.txt, pins every dependency of pyproject.toml within its range."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, Version]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pairs = [line.split("==", 1) for line in lines if line and not line.startswith("#")]
    names = [canonicalize_name(name) for name, _ in pairs]
    assert len(names) == len(set(names)), "one pin per package"
    return {canonicalize_name(name): Version(version) for name, version in pairs}


def _requirements() -> list[Requirement]:
    """What trend-stream[dev,bench] requires, the extras it names of itself (dev's
    `trend-stream[export]`, and so on) included."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    found: list[Requirement] = []
    pending = [Requirement(line) for line in [*project["dependencies"], *extras["dev"]]]
    pending += [Requirement(line) for line in extras["bench"]]
    while pending:
        requirement = pending.pop()
        if canonicalize_name(requirement.name) != "trend-stream":
            found.append(requirement)
            continue
        pending += [Requirement(line) for extra in requirement.extras for line in extras[extra]]
    return found


def test_the_onnx_backend_installs_without_torch() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    core = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    names = {canonicalize_name(Requirement(line).name) for line in extras["onnx"]}
    assert names == {"onnxruntime", "tokenizers"}
    assert not core & {"torch", "sentence-transformers", "transformers"}
    assert "trend-stream[onnx,torch]" in {str(Requirement(line)) for line in extras["export"]}
    assert "trend-stream[export]" in {str(Requirement(line)) for line in extras["dev"]}


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _pins()
    outside = [
        f"{req} (locked: {pins.get(canonicalize_name(req.name))})"
        for req in _requirements()
        if (pin := pins.get(canonicalize_name(req.name))) is None or pin not in req.specifier
    ]
    assert not outside, f"run scripts/lock: {outside}"


def test_click_stays_below_faust_streamings_pin() -> None:
    assert _pins()["click"] < Version("8.4")


def test_setup_installs_from_the_lock_in_one_pip_call() -> None:
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "-c constraints.txt -e '.[dev,bench]'" in setup
    assert setup.count("pip install") == 1
