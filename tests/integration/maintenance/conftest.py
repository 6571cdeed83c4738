"""Fixtures of the maintenance tests: alerts kept in a list (the pool is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from streams.messages.records import Alert


class Alerts(list[Alert]):
    """An alert sink that keeps what it is sent."""

    async def __call__(self, alert: Alert) -> None:
        self.append(alert)


@pytest.fixture
def alerts() -> Alerts:
    """The alerts a job raised."""
    return Alerts()
