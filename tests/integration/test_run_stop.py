"""`scripts/run stop` on real processes: it waits until they are gone, SIGKILLs one that ignores
SIGTERM after RUN_STOP_TIMEOUT_S and says so, removes a pid file only once its process is gone,
and never signals a process that is not the one it started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GRACEFUL = """
import signal, sys, time
def stop(*_):
    time.sleep(1.5)  # a worker finishing its batch and leaving its group
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
time.sleep(600)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a worker whose shutdown hangs
print("up", flush=True)
time.sleep(600)
"""


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts; any still running are killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _fake(
    processes: list[subprocess.Popen[bytes]], code: str, *tail: str
) -> subprocess.Popen[bytes]:
    """A Python process whose command line ends like a worker's (`services.<name> worker`)."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, *tail], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    processes.append(process)
    assert process.stdout is not None and process.stdout.readline() == b"up\n"
    return process


def _stop(state: Path, timeout_s: int = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STATE_DIR": str(state), "RUN_STOP_TIMEOUT_S": str(timeout_s)}
    return subprocess.run(
        [str(ROOT / "scripts" / "run"), "stop"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _pidfile(state: Path, name: str, process: subprocess.Popen[bytes]) -> Path:
    path = state / "run" / f"{name}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{process.pid}\n")
    return path


def test_stop_waits_until_the_workers_and_the_demo_sources_are_gone(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    collector = _fake(processes, GRACEFUL, "services.collector", "worker")
    processor = _fake(processes, GRACEFUL, "services.processor", "worker")
    demo = _fake(processes, GRACEFUL, "streams.demo", "serve")
    names = ("collector", "processor", "demo")
    files = [_pidfile(tmp_path, n, p) for n, p in zip(names, processes, strict=True)]
    started = time.monotonic()
    done = _stop(tmp_path)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 1.5  # it waited for them
    assert all(p.poll() is not None for p in (collector, processor, demo)), done.stdout
    assert not any(path.exists() for path in files)
    out = done.stdout
    assert f"collector stopping (pid {collector.pid})" in out
    assert f"collector stopped (pid {collector.pid}" in out
    assert out.index("processor stopped") < out.index("demo stopping")  # workers first
    assert "SIGKILL" not in out


def test_a_worker_ignoring_sigterm_is_killed_after_the_timeout_and_said_so(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    stubborn = _fake(processes, STUBBORN, "services.collector", "worker")
    pidfile = _pidfile(tmp_path, "collector", stubborn)
    started = time.monotonic()
    done = _stop(tmp_path, timeout_s=2)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 2
    assert f"collector still running after 2s: SIGKILL (pid {stubborn.pid})" in done.stdout
    assert stubborn.wait(10) == -9
    assert not pidfile.exists()


def test_a_pid_file_naming_another_program_is_dropped_and_the_program_left_alone(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    other = _fake(processes, STUBBORN.replace("SIG_IGN", "SIG_DFL"), "something", "else")
    pidfile = _pidfile(tmp_path, "maintenance", other)
    done = _stop(tmp_path)
    assert done.returncode == 0, done.stderr
    assert other.poll() is None  # not ours: never signalled
    assert not pidfile.exists()
    assert "stopping" not in done.stdout
