"""Fixtures of the reliability tests: a source server, and collectors wired to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.config import Settings
from tests.support.http import FixtureServer
from tests.support.workers import Worker


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    """A fresh HTTP fixture server on 127.0.0.1, stopped after the test."""
    with FixtureServer() as server:
        yield server


@pytest.fixture
def retry_settings(test_settings: Settings, fixture_server: FixtureServer) -> Settings:
    """The test's settings with Hacker News on the fixture server, no HTTP-level retries,
    and short retry delays without jitter (so each due time is known)."""
    return test_settings.model_copy(
        update={
            "hackernews_base_url": fixture_server.url,
            "hackernews_lists": ("top",),
            "http_max_retries": 0,
            "http_timeout_s": 5.0,
            "retry_backoff_s": 1.0,
            "retry_jitter": False,
        }
    )


@pytest.fixture
def collector_with(
    start_workers: Callable[..., list[Worker]],
) -> Callable[..., Worker]:
    """Factory: one collector worker with these settings (and overrides)."""

    def start(settings: Settings, **overrides: Any) -> Worker:
        return start_workers("collector", settings.model_copy(update=overrides))[0]

    return start


ROOT = Path(__file__).resolve().parents[3]
