"""The processor's worker checks its embedding backend as it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.processor.pipeline.onnx import EXPORT_COMMAND

ROOT = Path(__file__).resolve().parents[3]


def _run(command: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """The command in a fresh interpreter, set to the onnx backend without its export."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EMBEDDING_BACKEND": "onnx",
        "EMBEDDING_ONNX_PATH": str(folder / "no-export"),
    }
    return subprocess.run(
        [sys.executable, *command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_worker_without_the_onnx_export_stops_at_once_saying_how_to_make_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-export"
    done = _run(["-m", "faust", "-A", "services.processor", "worker", "-l", "info"], tmp_path)
    assert done.returncode == 1
    assert f"`{EXPORT_COMMAND} --out {missing}`" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_export_command_runs_before_its_export_exists(tmp_path: Path) -> None:
    done = _run(["-m", "services.processor.export", "--help"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"usage: {EXPORT_COMMAND}")
