"""Private servers for outage drills: `scripts/stack.py` on a test's own ports and STATE_DIR."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from streams.config import Settings
from tests.support.workers import free_port, settings_env

__all__ = ["free_port_pair", "stack"]

ROOT = Path(__file__).resolve().parents[2]


def stack(settings: Settings, *args: str) -> None:
    """`scripts/stack.py <args>` on these settings' servers (their own STATE_DIR); asserts it
    succeeded."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "stack.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **settings_env(settings)},
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def free_port_pair() -> int:
    """A free port whose next port is free too (a private broker's controller listens there)."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")
