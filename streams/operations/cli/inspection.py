"""`trendctl inspect workers|active|scheduled|registered|stats`: Celery's inspect commands."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.config import Settings
from streams.operations import inspect
from streams.operations.cli.app import CliError, inspect_app, out, reaching, run, settings
from streams.operations.cli.parsing import AsJson
from streams.operations.cli.render import (
    print_json,
    registered_tables,
    request_table,
    schedule_table,
    stats_table,
    worker_table,
)

__all__ = ["active", "registered", "scheduled", "stats", "workers"]

Timeout = Annotated[float, typer.Option(help="Seconds each worker may take to answer.")]


def _none_answered(urls: list[str]) -> CliError:
    return CliError(f"no worker answered at {', '.join(urls)}")


@inspect_app.command()
def workers(as_json: AsJson = False, timeout: Timeout = 3.0) -> None:
    """Each service's worker from its GET /health: status, live, ready, partitions."""
    found = run(inspect.workers(settings(), timeout=timeout))
    if as_json:
        print_json([w.as_dict() for w in found])
    else:
        out.print(worker_table(found))
    if not any(w.reachable for w in found):
        raise _none_answered([w.url for w in found])


@inspect_app.command()
def stats(as_json: AsJson = False, timeout: Timeout = 3.0) -> None:
    """Each worker's figures from its GET /metrics (messages, failures, requests, process)."""
    found = run(inspect.stats(settings(), timeout=timeout))
    if as_json:
        print_json([s.as_dict() for s in found])
    else:
        out.print(stats_table(found))
    if not any(s.reachable for s in found):
        raise _none_answered([s.url for s in found])


@inspect_app.command()
def active(
    limit: Annotated[int, typer.Option(min=1, help="Requests shown at most.")] = 100,
    as_json: AsJson = False,
) -> None:
    """Requests held by a worker now: RECEIVED, STARTED or RETRY."""
    found = run(_active(settings(), limit))
    if as_json:
        print_json([info.as_dict() for info in found])
    else:
        out.print(request_table(found, "active requests"))


async def _active(config: Settings, limit: int) -> list[inspect.RequestInfo]:
    with reaching("Redis", config.redis_url):
        return await inspect.active(config, limit)


@inspect_app.command()
def scheduled(as_json: AsJson = False) -> None:
    """The schedules with their next run and last run, and the retries waiting for their time."""
    schedules, retries = run(_scheduled(settings()))
    if as_json:
        print_json(
            {
                "schedules": [s.as_dict() for s in schedules],
                "retries": [r.as_dict() for r in retries],
            }
        )
        return
    out.print(schedule_table(schedules))
    out.print(request_table(retries, "retries due"))


async def _scheduled(
    config: Settings,
) -> tuple[list[inspect.ScheduleInfo], list[inspect.RequestInfo]]:
    with reaching("PostgreSQL", config.database_url.get_secret_value()):
        schedules = await inspect.scheduled(config)
    with reaching("Redis", config.redis_url):
        retries = await inspect.requests(config, 100, "RETRY")
    return schedules, retries


@inspect_app.command()
def registered(as_json: AsJson = False) -> None:
    """The plugins (built-in and entry points) and the request kinds each topic accepts."""
    found = inspect.registered(settings())
    if as_json:
        print_json(found.as_dict())
        return
    for grid in registered_tables(found):
        out.print(grid)
