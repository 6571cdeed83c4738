"""streams/ in layers: each imports only the layers below it and the modules every layer shares."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ROOT / "streams"
SHARED = ("streams", "streams.catalog", "streams.config", "streams.exceptions", "streams.pipeline")
"""The package itself (its version) and what every layer shares: they import no layer."""
LAYERS = ("messages", "reliability", "requests", "servers", "operations", "demo")
"""From the bottom up: each may import the ones before it."""


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "streams":  # from streams import catalog
                found |= {f"streams.{alias.name}" for alias in node.names}
    return {name for name in found if name == "streams" or name.startswith("streams.")}


def _layer(module: str) -> int:
    """-1 for the shared modules, else the layer's place in LAYERS."""
    if module in SHARED or module.removeprefix("streams.").startswith("__"):
        return -1
    return LAYERS.index(module.split(".")[1])


def test_every_module_is_shared_or_in_a_layer() -> None:
    top = {_module(path) for path in STREAMS.glob("*.py")} | {
        _module(path) for path in STREAMS.glob("*/__init__.py")
    }
    assert top == {*SHARED, *(f"streams.{layer}" for layer in LAYERS)}


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = [
        f"{_module(path)} -> {name}"
        for path in sorted(STREAMS.rglob("*.py"))
        for name in sorted(_imports(path))
        if name not in SHARED and _layer(name) > _layer(_module(path))
    ]
    assert not upward, upward


def test_layer_packages_reexport_nothing_of_their_modules() -> None:
    for layer in LAYERS[:-1]:
        tree = ast.parse((STREAMS / layer / "__init__.py").read_text())
        assert [type(node) for node in tree.body] == [ast.Expr], layer  # the docstring alone
