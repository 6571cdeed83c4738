"""The benchmarks don't rot: `python bench/run.py --tiny --jobs 2` runs every one (two at a time:
the tiny run's figures say nothing, so they may share the cores) and reports every figure.

It starts its own RabbitMQ (installing Debian's rabbitmq-server if missing); in CI a server that
cannot be started fails this test like any other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.config import Settings
from tests.support.workers import settings_env

ROOT = Path(__file__).resolve().parents[2]
BENCHES = {
    "broker",
    "nomodel",
    "model",
    "oldsystem",
    "latency",
    "memory",
    "scaling",
    "freshness",
    "recovery",
    "cluster",
    "soak",
}
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_every_bench_reports_every_figure(servers: Settings) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--jobs", "2"],
        cwd=ROOT,
        env={**os.environ, **settings_env(servers)},
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    written = [line for line in done.stdout.splitlines() if line.startswith("written: ")]
    run = json.loads(Path(written[-1].removeprefix("written: ")).read_text())
    reports = {report["bench"]: report for report in run["reports"]}
    assert set(reports) == BENCHES
    for name, report in reports.items():
        assert report["figures"], f"{name}: no figures"
        for figure, values in report["figures"].items():
            assert values["median"] is not None and values["median"] > 0, f"{name}.{figure}"
        for ratio, value in report["ratios"].items():
            assert value is not None and value > 0, f"{name}.{ratio}"
        for target in report["targets"].values():
            assert target["value"] is not None
    assert "| bench | measure | median |" in done.stdout
