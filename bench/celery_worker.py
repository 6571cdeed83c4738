"""A Celery worker of the old design for a bench run: prefork, one process per core, as deployed."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.rabbitmq import RabbitMQ
from streams.config import Settings
from tests.support.workers import settings_env

ROOT = Path(__file__).resolve().parents[1]


def celery_env(settings: Settings, rabbit: RabbitMQ) -> dict[str, str]:
    """The worker's and the client's environment: the run's servers, a queue of the run's own."""
    return {
        **os.environ,
        **settings_env(settings),
        "BENCH_AMQP_URL": rabbit.url,
        "BENCH_CELERY_QUEUE": f"{settings.namespace}celery",
        "PYTHONPATH": str(ROOT),
    }


@contextmanager
def celery_worker(
    settings: Settings, rabbit: RabbitMQ, concurrency: int = 2
) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A bench.celery_app worker` until it answers a task; stopped (warm) afterwards."""
    env = celery_env(settings, rabbit)
    log = settings.state_dir / "logs" / "celery.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                "celery",
                "-A",
                "bench.celery_app",
                "worker",
                "-Q",
                env["BENCH_CELERY_QUEUE"],
                "-c",
                str(concurrency),
                "-P",
                "prefork",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    try:
        _wait_answers(env["BENCH_CELERY_QUEUE"], process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_answers(
    queue: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0
) -> None:
    from bench.celery_app import ingest_batch

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            ingest_batch.apply_async(([],), queue=queue).get(timeout=2)
        except Exception as exc:  # not consuming yet: any failure means "wait"
            if time.monotonic() > deadline:
                raise TimeoutError(f"celery worker silent after {timeout}s: {exc}") from exc
        else:
            return
