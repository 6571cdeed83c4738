"""The manifest of labelled corpora: paths from the checkout, required and optional corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.processor.corpora import MissingCorpusError, available, manifest


def _manifest(root: Path, *entries: tuple[str, bool]) -> Path:
    folder = root / "tests" / "fixtures"
    folder.mkdir(parents=True)
    rows = [
        {
            "name": name,
            "items": f"data/{name}.jsonl",
            "stories": f"data/{name}_stories.json",
            "format": "week",
            "writer": "w",
            "looked_at": None,
            "required": required,
            "held_out": False,
        }
        for name, required in entries
    ]
    path = folder / "corpora.json"
    path.write_text(json.dumps({"about": "", "corpora": rows}))
    return path


def _present(root: Path, name: str) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / f"{name}.jsonl").write_text("")
    (root / "data" / f"{name}_stories.json").write_text("{}")


def test_paths_are_read_from_the_checkout_root(tmp_path: Path) -> None:
    (corpus,) = manifest(_manifest(tmp_path, ("a", True)))
    assert corpus.items == (tmp_path / "data" / "a.jsonl").resolve()
    assert not corpus.present


def test_an_optional_corpus_missing_is_left_out_unless_all_are_required(tmp_path: Path) -> None:
    listed = manifest(_manifest(tmp_path, ("a", True), ("b", False)))
    _present(tmp_path, "a")
    assert [c.name for c in available(listed)] == ["a"]
    with pytest.raises(MissingCorpusError, match="b"):
        available(listed, require_all=True)  # as in CI


def test_a_required_corpus_missing_is_an_error(tmp_path: Path) -> None:
    listed = manifest(_manifest(tmp_path, ("a", True), ("b", False)))
    _present(tmp_path, "b")
    with pytest.raises(MissingCorpusError, match="a"):
        available(listed)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = _manifest(tmp_path, ("a", True))
    data = json.loads(path.read_text())
    data["corpora"][0]["format"] = "csv"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="unknown format"):
        manifest(path)
