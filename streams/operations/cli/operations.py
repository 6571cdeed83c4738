"""`trendctl lag`, `purge`, `health`, `backup now`, `trends top` and `topics rebuild`: running
the system."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import typer

from streams.config import Settings
from streams.messages.records import RequestState, TrendState
from streams.messages.topics import TopicSpec
from streams.operations import inspect
from streams.operations.cli.app import (
    CliError,
    backup_app,
    cli,
    out,
    reaching,
    run,
    settings,
    topics_app,
    trends_app,
)
from streams.operations.cli.parsing import AsJson, BadInputError, catalog_topic, parse_time
from streams.operations.cli.render import lag_tables, print_json, table, trend_table
from streams.operations.offsets import truncate_topic
from streams.requests.client import (
    RequestHandle,
    RequestTimeoutError,
    request_maintenance,
    request_processing,
)

__all__ = ["backup_now", "health", "lag", "purge", "rebuild", "top"]


@cli.command()
def lag(
    group: Annotated[
        str | None, typer.Option(help="A consumer group (default: every service's group).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Consumer lag now, per partition, with the latest sampled Burrow status."""
    found = run(_lag(settings(), group))
    if as_json:
        print_json([g.as_dict() for g in found])
        return
    for grid in lag_tables(found):
        out.print(grid)


async def _lag(config: Settings, group: str | None) -> list[inspect.GroupLagView]:
    with (
        reaching("Kafka", config.kafka_bootstrap_servers),
        reaching("PostgreSQL", config.database_url.get_secret_value()),
    ):
        return await inspect.consumer_lag(config, group)


@cli.command()
def purge(
    topic: Annotated[str, typer.Argument(help="A catalog topic, e.g. items.raw.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete every message of a catalog topic (up to its end offsets). Asks first."""
    config = settings()
    try:
        spec = catalog_topic(topic, config.namespace)
    except BadInputError as exc:
        raise CliError(str(exc), 2) from None
    name = spec.full_name(config)
    if not yes and not typer.confirm(f"Delete every message of {name}?", default=False):
        raise CliError("purge cancelled, nothing deleted")
    deleted = run(_purge(config, spec))
    out.print(f"purged {name}: {sum(deleted.values())} messages deleted", markup=False)


async def _purge(config: Settings, spec: TopicSpec) -> dict[int, int]:
    with reaching("Kafka", config.kafka_bootstrap_servers):
        return await truncate_topic(config, spec)


Request = Callable[..., Awaitable[RequestHandle]]
_SERVICES: dict[Request, str] = {
    request_maintenance: "maintenance",
    request_processing: "processor",
}
"""The service each job request goes to (named when none answers)."""


async def _job(
    config: Settings,
    job: str,
    timeout: float,
    options: Mapping[str, Any] | None = None,
    request: Request = request_maintenance,
) -> dict[str, Any]:
    """Request a job (maintenance by default) and wait for its result; revoke it if no worker
    took it."""
    with reaching("Kafka", config.kafka_bootstrap_servers):
        handle = await request(
            job, options=options, requested_by="trendctl", timeout=timeout, settings=config
        )
    async with handle:
        with reaching("Redis", config.redis_url):
            try:
                return await handle.result(timeout)
            except RequestTimeoutError:
                await _revoke_if_untaken(handle, config, _SERVICES[request])
                raise


async def _revoke_if_untaken(handle: RequestHandle, config: Settings, service: str) -> None:
    """A job no worker received is revoked, so it does not run by surprise later."""
    if await handle.state() is RequestState.PENDING:
        with reaching("Kafka", config.kafka_bootstrap_servers):
            await handle.cancel(issued_by="trendctl")
        raise CliError(
            f"no {service} worker answered within the timeout (request {handle.request_id} "
            f"revoked); is a {service} worker running?"
        )


@cli.command()
def health(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the health job.")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """Run the maintenance `health` job now and print its checks (0: ok, 1: degraded or down).

    Needs a running maintenance worker: the checks run where the services run.
    """
    report = run(_job(settings(), "health", timeout))
    if as_json:
        print_json(report)
    else:
        _print_health(report)
    if report.get("status") != "ok":
        raise typer.Exit(1)


def _print_health(report: dict[str, Any]) -> None:
    checks = report.get("checks") or {}
    rows = (
        (
            name,
            "ok" if check.get("ok") else "FAIL",
            f"{check.get('latency_ms', 0):.0f}",
            check.get("detail"),
        )
        for name, check in checks.items()
    )
    columns = ("check", "result", "ms", "detail")
    out.print(table(f"health: {report.get('status')}", columns, rows, keep=("check",)))


@backup_app.command("now")
def backup_now(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the backup.")] = 600.0,
    as_json: AsJson = False,
) -> None:
    """Run the maintenance `backup` job now (pg_dump, verified, rotated) and wait for it."""
    result = run(_job(settings(), "backup", timeout))
    if as_json:
        print_json(result)
        return
    size = int(result.get("size_bytes") or 0)
    out.print(
        f"backup {result.get('id')}: {result.get('path')} ({size} bytes, "
        f"{result.get('toc_entries')} entries); removed {len(result.get('removed') or [])}",
        markup=False,
    )


@trends_app.command()
def top(
    n: Annotated[int, typer.Option("--n", "-n", min=1, max=1000, help="How many.")] = 10,
    state: Annotated[TrendState | None, typer.Option(help="Only trends in this state.")] = None,
    as_json: AsJson = False,
) -> None:
    """The best-scored trends, from PostgreSQL."""
    found = run(_top(settings(), n, state.value if state else None))
    if as_json:
        print_json([t.as_dict() for t in found])
    else:
        out.print(trend_table(found))


async def _top(config: Settings, n: int, state: str | None) -> list[inspect.TrendInfo]:
    with reaching("PostgreSQL", config.database_url.get_secret_value()):
        return await inspect.top_trends(config, n, state)


@topics_app.command("rebuild")
def rebuild(
    since: Annotated[
        str, typer.Option(help="How far back items.enriched is replayed: an age (7d, 12h) or ISO.")
    ] = "7d",
    n: Annotated[int, typer.Option(help="Trends listed before and after.")] = 10,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 600.0,
) -> None:
    """A dry run: a processor worker replays items.enriched since then through a shadow cluster
    stage of its settings and reports how the topics would change; nothing is written."""
    try:
        hours = max(1, math.ceil((time.time() - parse_time(since)) / 3600))
    except BadInputError as exc:
        raise CliError(f"--since: {exc}", 2) from None
    options = {"hours": hours, "top": n}
    print_json(run(_job(settings(), "rebuild_topics", timeout, options, request_processing)))
