"""`trendctl collect`, `trigger`, `status`, `requests` and `cancel`: requests and their states."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import CollectRequest, RequestState, RequestStatus, request_id_problem
from streams.operations import inspect
from streams.operations.cli.app import CliError, cli, err, out, reaching, run, settings
from streams.operations.cli.parsing import AsJson, BadInputError, parse_options, parse_states
from streams.operations.cli.render import print_json, request_table, status_summary, timeline_table
from streams.requests.client import RequestHandle, RequestTimeoutError, request_collection
from streams.requests.state import RequestStates, redis_client

__all__ = [
    "Ask",
    "cancel",
    "checked_id",
    "collect",
    "follow",
    "list_requests",
    "status",
    "trigger",
]

POLL_S = 0.2
OptionList = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="KEY=VALUE (JSON values; dotted keys nest)."),
]
Priority = Annotated[int, typer.Option(min=0, max=9, help=">= 5 goes to the priority topic.")]
RequestId = Annotated[
    str | None, typer.Option("--id", help="The request's id (default: a new one).")
]


def _options(pairs: list[str] | None) -> dict[str, object]:
    try:
        return parse_options(pairs or [])
    except BadInputError as exc:
        raise CliError(str(exc), 2) from None


def checked_id(request_id: str) -> str:
    """A request id given on the command line; exit code 2 when it breaks the id rule."""
    problem = request_id_problem(request_id)
    if problem is not None:
        raise CliError(f"invalid request id: {problem}", 2)
    return request_id


def _checked(config: Settings, ask: Ask) -> Ask:
    """Refuse, with exit code 2, what no collector can run: a plugin or group not installed
    here, a malformed request or malformed common options (the plugin's own options are
    checked by the collector, which dead-letters a request it cannot run)."""
    known = inspect.registered(config)
    names = {plugin.name for plugin in known.plugins} | set(known.groups)
    if ask.plugin not in names:
        raise CliError(f"unknown plugin {ask.plugin!r}; known: {', '.join(sorted(names))}", 2)
    request = CollectRequest(
        plugin=ask.plugin,
        options=ask.options,
        dry_run=ask.dry_run,
        then_process=ask.then_process,
        priority=ask.priority,
        request_id=ask.request_id or "",
    )
    try:
        request.check()
    except RecordValidationError as exc:
        raise CliError(str(exc), 2) from None
    return ask


@dataclass(frozen=True)
class Ask:
    """A collection to request."""

    plugin: str
    options: dict[str, object]
    dry_run: bool = False
    then_process: bool = False
    priority: int = 0
    timeout: float = 60.0
    request_id: str | None = None


async def _send(config: Settings, ask: Ask) -> RequestHandle:
    with reaching("Kafka", config.kafka_bootstrap_servers):
        return await request_collection(
            ask.plugin,
            options=ask.options,
            dry_run=ask.dry_run,
            then_process=ask.then_process,
            priority=ask.priority,
            requested_by="trendctl",
            request_id=ask.request_id,
            timeout=ask.timeout,
            settings=config,
        )


@cli.command()
def collect(
    plugin: Annotated[str, typer.Argument(help="A plugin, `all` or `high_frequency`.")],
    *,
    option: OptionList = None,
    dry_run: Annotated[bool, typer.Option(help="Collect a sample; publish nothing.")] = False,
    then_process: Annotated[bool, typer.Option(help="Succeed once items are processed.")] = False,
    priority: Priority = 0,
    wait: Annotated[bool, typer.Option(help="Follow the request live until it ends.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most.")] = 300.0,
    request_id: RequestId = None,
    as_json: AsJson = False,
) -> None:
    """Request a collection; print its id, or with --wait follow it to its final state.

    Exit code 2 for a plugin not installed here or malformed options, before anything is sent.
    """
    config = settings()
    ask = _checked(
        config, Ask(plugin, _options(option), dry_run, then_process, priority, timeout, request_id)
    )
    final = run(_collect(config, ask, wait, err if as_json else out))
    if final is not None and as_json:
        print_json(_status_dict(final))
    elif final is not None:
        status_summary(final)
    if final is not None and final.state is not RequestState.SUCCESS:
        raise typer.Exit(1)


async def _collect(
    config: Settings, ask: Ask, wait: bool, console: Console
) -> RequestStatus | None:
    handle = await _send(config, ask)
    async with handle:
        if not wait:
            out.print(handle.request_id)
            return None
        console.print(f"request {handle.request_id} sent", style="dim")
        return await follow(handle, config, ask.timeout, console)


async def follow(
    handle: RequestHandle, config: Settings, timeout: float, console: Console = out
) -> RequestStatus:
    """Show the request's states live on `console` as they arrive, until a final one."""
    states = RequestStates(redis_client(config), config)
    try:
        with reaching("Redis", config.redis_url):
            return await _follow(handle.request_id, states, timeout, console)
    finally:
        await states.redis.aclose()


async def _follow(
    request_id: str, states: RequestStates, timeout: float, console: Console
) -> RequestStatus:
    try:
        return await _watch(request_id, states, timeout, console)
    finally:
        if not console.is_terminal:  # a live display off a terminal ends without a newline
            console.print()


async def _watch(
    request_id: str, states: RequestStates, timeout: float, console: Console
) -> RequestStatus:
    deadline = time.monotonic() + timeout
    with Live(console=console, transient=False) as live:
        while True:
            status = await states.get(request_id)
            moments = await states.timeline(request_id)
            children = await _children(states, status)
            live.update(_progress(request_id, status, moments, children, deadline))
            if status is not None and status.state.is_final:
                return status
            if time.monotonic() >= deadline:
                last = status.state.value if status else "PENDING"
                raise RequestTimeoutError(
                    f"request {request_id}: no result within {timeout:g}s (last state: {last})"
                )
            await asyncio.sleep(POLL_S)


async def _children(states: RequestStates, status: RequestStatus | None) -> list[RequestStatus]:
    ids = (status.result or {}).get("children") if status else None
    if not isinstance(ids, list):
        return []
    found = [await states.get(str(child)) for child in ids]
    return [child for child in found if child is not None]


def _progress(
    request_id: str,
    status: RequestStatus | None,
    moments: list[dict[str, Any]],
    children: list[RequestStatus],
    deadline: float,
) -> Group:
    state = status.state.value if status else "PENDING"
    left = max(deadline - time.monotonic(), 0)
    parts: list[Any] = [timeline_table(moments)]
    if children:
        table = Table("child", "state", "error", title="children", title_justify="left")
        for child in children:
            table.add_row(child.request_id, child.state.value, child.error or "")
        parts.append(table)
    if status is None or not status.state.is_final:
        parts.append(Spinner("dots", text=f"{request_id}: {state} (waiting, {left:.0f}s left)"))
    return Group(*parts)


@cli.command()
def trigger(
    plugin: Annotated[str, typer.Argument(help="Plugin or group name.")],
    *,
    option: OptionList = None,
    dry_run: Annotated[bool, typer.Option(help="Collect without publishing items.")] = False,
    priority: Priority = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 60.0,
    request_id: RequestId = None,
) -> None:
    """Request a collection, wait, and print its final status as JSON (0: SUCCESS)."""
    config = settings()
    options = _options(option)
    ask = _checked(config, Ask(plugin, options, dry_run, False, priority, timeout, request_id))
    final = run(_trigger(config, ask))
    print_json(_status_dict(final))
    raise typer.Exit(0 if final.state is RequestState.SUCCESS else 1)


async def _trigger(config: Settings, ask: Ask) -> RequestStatus:
    handle = await _send(config, ask)
    async with handle:
        with reaching("Redis", config.redis_url):
            return await handle.wait(ask.timeout)


def _status_dict(status: RequestStatus) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(status.dumps())
    data.pop("__faust", None)
    return data


@cli.command()
def status(
    request_id: Annotated[str, typer.Argument(help="The request id.")],
    as_json: AsJson = False,
) -> None:
    """The latest status of a request and the states it went through."""
    config = settings()
    found, moments = run(_status(config, checked_id(request_id)))
    if found is None:
        raise CliError(f"request {request_id}: no status known (PENDING, or expired)")
    if as_json:
        print_json({**_status_dict(found), "timeline": moments})
        return
    status_summary(found)
    out.print(timeline_table(moments))


async def _status(
    config: Settings, request_id: str
) -> tuple[RequestStatus | None, list[dict[str, Any]]]:
    states = RequestStates(redis_client(config), config)
    try:
        with reaching("Redis", config.redis_url):
            return await states.get(request_id), await states.timeline(request_id)
    finally:
        await states.redis.aclose()


@cli.command("requests")
def list_requests(
    state: Annotated[
        str | None, typer.Option(help="States, comma-separated (e.g. STARTED,RETRY).")
    ] = None,
    plugin: Annotated[str | None, typer.Option(help="Only this plugin, group or job.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Requests shown at most.")] = 50,
    as_json: AsJson = False,
) -> None:
    """The most recently updated requests, newest first (Flower's task list)."""
    config = settings()
    try:
        states = parse_states(state)
    except BadInputError as exc:
        raise CliError(str(exc), 2) from None
    found = run(_requests(config, limit, states, plugin))
    if as_json:
        print_json([info.as_dict() for info in found])
    else:
        out.print(request_table(found, "requests"))


async def _requests(
    config: Settings, limit: int, states: str | None, plugin: str | None
) -> list[inspect.RequestInfo]:
    with reaching("Redis", config.redis_url):
        return await inspect.requests(config, limit, states, plugin)


@cli.command()
def cancel(request_id: Annotated[str, typer.Argument(help="The request id.")]) -> None:
    """Revoke a request: skipped if still queued, stopped if running."""
    config = settings()
    run(_cancel(config, checked_id(request_id)))
    out.print(f"revoke sent for {request_id}")


async def _cancel(config: Settings, request_id: str) -> None:
    async with RequestHandle(request_id, config) as handle:
        with reaching("Redis", config.redis_url), reaching("Kafka", config.kafka_bootstrap_servers):
            await handle.cancel(issued_by="trendctl")
