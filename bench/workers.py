"""Faust and Celery workers of a bench run, in subprocesses, with their memory sampled."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

from streams.config import ServiceName, Settings
from streams.messages.topics import ITEMS_ENRICHED, ITEMS_RAW
from tests.support.workers import Worker, free_port, settings_env

ROOT = Path(__file__).resolve().parents[1]


def start_faust(service: ServiceName, settings: Settings, module: str | None = None) -> Worker:
    """`faust -A <module> worker` (default services.<service>) with these settings, on a free
    port, with a Qdrant local-mode folder of its own (local mode allows one client per folder)."""
    port = free_port()
    own = settings.model_copy(update={"qdrant_path": settings.state_dir / f"qdrant-{port}"})
    env = {
        **os.environ,
        **settings_env(own),
        f"{service.upper()}_WEB_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    folder = settings.state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{service}-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["faust", "-A", module or f"services.{service}", "worker", "-l", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    return Worker(service, process, port, log)


@contextmanager
def running(workers: list[Worker], timeout: float = 180.0) -> Iterator[list[Worker]]:
    """Wait until every worker has partitions; stop them all afterwards."""
    try:
        for worker in workers:
            worker.wait_ready(timeout)
        yield workers
    finally:
        for worker in workers:
            with suppress(subprocess.TimeoutExpired):
                worker.stop()


def assignment(worker: Worker) -> list[str]:
    """The partitions a worker holds now (`topic:partition`), [] while it does not answer."""
    response = worker.health()
    if response is None or response.status_code != 200:
        return []
    held: list[str] = response.json().get("assignment", [])
    return held


def wait_settled(
    workers: list[Worker], settings: Settings, *, cluster: bool = True, timeout: float = 90.0
) -> None:
    """Wait until the group rebalanced: every worker holds items.raw partitions, all of them
    are held, and (with `cluster`) exactly one worker holds items.enriched."""
    raw = ITEMS_RAW.full_name(settings)
    enriched = f"{ITEMS_ENRICHED.full_name(settings)}:0"
    partitions = {f"{raw}:{n}" for n in range(settings.topic_partitions)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = [set(assignment(worker)) for worker in workers]
        spread = all(any(p.startswith(f"{raw}:") for p in h) for h in held)
        owners = sum(enriched in h for h in held)
        if spread and partitions <= set().union(*held) and (not cluster or owners == 1):
            return
        time.sleep(0.3)
    raise TimeoutError(f"the group never settled: {[assignment(w) for w in workers]}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (a Celery pool), in MiB."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


class PeakRss:
    """Samples a process tree's RSS every 50 ms in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))
