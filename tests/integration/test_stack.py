"""The local stack command: `up` twice is harmless, `status` reports it, `down` stops it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.config import Settings
from streams.messages.topics import CATALOG
from tests.support.workers import free_port, settings_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _kafka_ports() -> int:
    """A port whose successor (the KRaft controller's) is free too."""
    while True:
        port = free_port()
        if port < 65535 and _free(port + 1):
            return port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stack(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
        timeout=600,
    )


@pytest.fixture
def own_stack(servers: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a second, private stack on free ports; purged afterwards."""
    settings = servers.model_copy(
        update={
            "kafka_bootstrap_servers": f"127.0.0.1:{_kafka_ports()}",
            "database_url": SecretStr(f"postgresql://stack:pw@127.0.0.1:{free_port()}/stackdb"),
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
            "state_dir": tmp_path / "state",
            "topic_partitions": 2,
        }
    )
    yield settings
    _stack(settings, "purge")


def test_up_twice_status_and_down(own_stack: Settings) -> None:
    first = _stack(own_stack, "up")
    assert first.returncode == 0, first.stderr
    assert f"topics: {len(CATALOG)} created" in first.stderr
    again = _stack(own_stack, "up")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already up") == 3
    assert "migrations: up to date" in again.stderr
    assert f"topics: 0 created, {len(CATALOG)} already present" in again.stderr

    status = _stack(own_stack, "status")
    assert status.returncode == 0, status.stdout
    lines = status.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["postgres", "redis", "kafka"]
    assert all(" up (pid " in line for line in lines)
    assert "Apache Kafka 4." in lines[2] and own_stack.kafka_bootstrap_servers in lines[2]

    down = _stack(own_stack, "down")
    assert down.returncode == 0, down.stderr
    assert down.stderr.count("stopped (pid") == 3
    after = _stack(own_stack, "status")
    assert after.returncode == 3
    assert all(line.split()[2] == "down" for line in after.stdout.splitlines())
