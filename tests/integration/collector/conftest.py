"""Fixtures of the collector's integration tests: a local HTTP server standing in for sources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.http import FixtureServer


@pytest.fixture
def fixture_server() -> Iterator[FixtureServer]:
    """A fresh HTTP fixture server on 127.0.0.1, stopped after the test."""
    with FixtureServer() as server:
        yield server
