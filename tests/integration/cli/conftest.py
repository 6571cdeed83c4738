"""Fixtures of the CLI tests: trendctl run as a subprocess with a test's settings."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from tests.support.workers import settings_env

ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Ran:
    """What one trendctl run printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as JSON."""
        return json.loads(self.out)

    def error_line(self) -> str:
        """stderr, which must be one `trendctl: ...` line."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("trendctl: "), self.err
        return lines[0]


Trendctl = Callable[..., Awaitable[Ran]]


async def run_trendctl(
    settings: Settings,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 120.0,
) -> Ran:
    """Run `python -m streams.operations.cli ARGS` with these settings in its environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "streams.operations.cli",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **settings_env(settings), "COLUMNS": "250", **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    return Ran(process.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def trendctl(test_settings: Settings) -> Trendctl:
    """Run trendctl with the test's settings (plus `env` overrides)."""

    async def run(*args: str, **kwargs: Any) -> Ran:
        return await run_trendctl(test_settings, *args, **kwargs)

    return run
