"""`python -m services.processor.export`: the model's ONNX export, written once and checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.processor.export import MIN_COSINE, export, fingerprint, main, verify
from services.processor.pipeline.embed import default_model_path
from services.processor.pipeline.onnx import (
    MODEL_FILE,
    SPEC_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
    read_spec,
)


def test_an_export_of_the_same_model_files_is_kept(onnx_export: Path) -> None:
    before = (onnx_export / MODEL_FILE).stat().st_mtime_ns
    spec, written = export(default_model_path(), onnx_export)
    assert not written
    assert (onnx_export / MODEL_FILE).stat().st_mtime_ns == before
    assert spec == read_spec(onnx_export)
    assert spec.fingerprint == fingerprint(default_model_path())


def test_an_export_of_other_model_files_is_written_again(onnx_export: Path, tmp_path: Path) -> None:
    folder = tmp_path / "onnx"
    shutil.copytree(onnx_export, folder)
    stale = read_spec(folder)
    saved = (folder / SPEC_FILE).read_text()
    (folder / SPEC_FILE).write_text(saved.replace(stale.fingerprint, "0"))
    spec, written = export(default_model_path(), folder)
    assert written
    assert spec.fingerprint == stale.fingerprint
    files = {MODEL_FILE, TOKENIZER_FILE, VOCAB_FILE, SPEC_FILE}
    assert {path.name for path in folder.iterdir()} == files
    assert (folder / VOCAB_FILE).read_bytes() == (default_model_path() / VOCAB_FILE).read_bytes()


def test_the_export_gives_sentence_transformers_vectors(onnx_export: Path) -> None:
    assert verify(default_model_path(), onnx_export) >= MIN_COSINE


def test_the_command_says_where_the_export_is_and_how_to_use_it(
    onnx_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(onnx_export)]) == 0
    printed = capsys.readouterr().out
    assert f"already exported: {default_model_path()} -> {onnx_export}" in printed
    assert f"EMBEDDING_BACKEND=onnx EMBEDDING_ONNX_PATH={onnx_export.resolve()}" in printed
