"""The processor's worker checks its embedding backend as it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.processor.pipeline.onnx import EXPORT_COMMAND

ROOT = Path(__file__).resolve().parents[3]


def test_a_worker_without_the_onnx_export_stops_at_once_saying_how_to_make_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-export"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "EMBEDDING_BACKEND": "onnx",
        "EMBEDDING_ONNX_PATH": str(missing),
    }
    done = subprocess.run(
        [sys.executable, "-m", "faust", "-A", "services.processor", "worker", "-l", "info"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"`{EXPORT_COMMAND} --out {missing}`" in done.stderr
    assert "Traceback" not in done.stderr
