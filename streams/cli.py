"""`trendctl`: trigger requests and read their results from the command line."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console

from streams.client import request_collection
from streams.config import load_settings
from streams.exceptions import TrendStreamError
from streams.records import RequestStatus

__all__ = ["cli", "main"]

cli = typer.Typer(help="trend-stream control: trigger collections and read their results.")
err = Console(stderr=True)


@cli.callback()
def _root() -> None:
    """trend-stream control: trigger collections and read their results."""


def _options(pairs: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


async def _run(
    plugin: str, options: dict[str, object], dry_run: bool, priority: int, timeout: float
) -> RequestStatus:
    handle = await request_collection(
        plugin,
        options=options,
        dry_run=dry_run,
        priority=priority,
        requested_by="trendctl",
        settings=load_settings(),
    )
    async with handle:
        return await handle.wait(timeout)


@cli.command()
def trigger(
    plugin: Annotated[str, typer.Argument(help="Plugin or group name.")],
    option: Annotated[
        list[str], typer.Option("--option", "-o", help="KEY=VALUE (JSON values).")
    ] = [],  # noqa: B006
    dry_run: Annotated[bool, typer.Option(help="Collect without publishing items.")] = False,
    priority: Annotated[
        int, typer.Option(min=0, max=9, help=">= 5 goes to the priority topic.")
    ] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the result.")] = 60.0,
) -> None:
    """Produce a CollectRequest to collect.requests and print its final status."""
    try:
        status = asyncio.run(_run(plugin, _options(option), dry_run, priority, timeout))
    except TrendStreamError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    print(
        json.dumps(
            {k: v for k, v in json.loads(status.dumps()).items() if k != "__faust"}, indent=2
        )
    )
    raise typer.Exit(0 if status.state.value == "SUCCESS" else 1)


def main() -> None:
    """Console-script entry point."""
    cli()
