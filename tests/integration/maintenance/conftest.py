"""Fixtures of the maintenance tests: a pool on the test's database, alerts kept in a list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from streams.config import Settings
from streams.db import create_pool
from streams.records import Alert


class Alerts(list[Alert]):
    """An alert sink that keeps what it is sent."""

    async def __call__(self, alert: Alert) -> None:
        self.append(alert)


@pytest.fixture
async def pool(test_settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool on the test's own migrated database."""
    opened = await create_pool(test_settings, max_size=4)
    yield opened
    await opened.close()


@pytest.fixture
def alerts() -> Alerts:
    """The alerts a job raised."""
    return Alerts()
