"""`python -m streams.demo serve|env|run`: the demo sources server, the plugin settings that point
at it, and the replay of the week through the running workers ending in the top trends."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from types import FrameType

import httpx
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError
from rich.console import Console

from streams.config import Settings, get_settings
from streams.demo.live import LiveLine
from streams.demo.replay import Replay, ReplayResult
from streams.demo.server import DemoServer, plugin_settings
from streams.demo.week import Week
from streams.exceptions import TrendStreamError
from streams.operations import inspect
from streams.operations.cli.render import trend_table
from streams.requests import client

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit code."""
    parser = argparse.ArgumentParser(prog="python -m streams.demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the week on 127.0.0.1 until SIGTERM")
    serve.add_argument("--port", type=int, help="default: DEMO_WEB_PORT")
    env = commands.add_parser("env", help="the plugin settings for the server, as shell exports")
    env.add_argument("--url", help="the server's URL (default: 127.0.0.1:DEMO_WEB_PORT)")
    run = commands.add_parser("run", help="replay the week through the workers; the top trends")
    run.add_argument("--url", help="the server's URL (default: 127.0.0.1:DEMO_WEB_PORT)")
    run.add_argument("--step-hours", type=int, default=6, help="demo hours per collection")
    run.add_argument("--top", type=int, default=10, help="trends in the table at the end")
    args = parser.parse_args(argv)
    settings = get_settings()
    url = getattr(args, "url", None) or f"http://127.0.0.1:{settings.demo_web_port}"
    if args.command == "serve":
        return _serve(args.port or settings.demo_web_port)
    if args.command == "env":
        for name, value in plugin_settings(url, Week.load()).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    try:
        return asyncio.run(_run(settings, url, timedelta(hours=args.step_hours), args.top))
    except (TrendStreamError, httpx.HTTPError, KafkaError, RedisError, OSError) as exc:
        print(f"\ndemo: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _serve(port: int) -> int:
    week = Week.load().ending_before(datetime.now(UTC))
    server = DemoServer(week, port=port).start()
    print(
        f"demo: sources at {server.url}: {len(week)} items, "
        f"{week.start:%Y-%m-%d %H:%M} .. {week.end:%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopping.wait()
    server.stop()
    print("demo: sources stopped", flush=True)
    return 0


async def _run(settings: Settings, url: str, step: timedelta, top: int) -> int:
    started = time.monotonic()
    live = LiveLine()
    replay = Replay(
        settings,
        url,
        step=step,
        on_progress=lambda progress: live.update(progress.line()),
        on_event=live.say,
    )
    try:
        result = await replay.run()
    finally:
        await client.close()  # the requests' producer, kept for the whole replay
    live.done(_summary(result, time.monotonic() - started))
    for line in _details(result):
        print(line)
    found = await inspect.top_trends(settings, top)
    Console(highlight=False).print(trend_table(found))
    host, port = settings.web_address("maintenance")
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    print(f"dashboard: http://{shown}:{port}/dashboard")
    if not found:
        print("demo: no trends in PostgreSQL: see the processor's log", file=sys.stderr)
        return 1
    return 0


def _summary(result: ReplayResult, seconds: float) -> str:
    stats = result.stats
    if result.collections == 0:
        return f"demo: {stats.stored} items of the week in {stats.topics} topics"
    return (
        f"demo: the week in {result.collections} collections, {seconds:.0f}s: "
        f"{stats.processed} of its {stats.stored} items processed into {stats.topics} topics, "
        f"{result.updates} trend updates on trends.updates"
    )


def _details(result: ReplayResult) -> list[str]:
    lines = []
    if result.by_source:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(result.by_source.items()))
        lines.append(f"demo: new items collected over HTTP: {counts}")
    if result.collections == 0:
        lines.append(
            "demo: the week is in PostgreSQL already, processed by an earlier run: its trends "
            "are below (to watch the replay again, use a new NAMESPACE and DATABASE_URL)"
        )
    elif result.stored_before:
        lines.append(f"demo: {result.stored_before} of the week's items were there already")
    if result.went_trending:
        lines.append(f"demo: {len(result.went_trending)} topics went trending during the week")
    if result.failures:
        lines.append(f"demo: sources that failed: {'; '.join(result.failures)}")
    if result.late_steps or not result.caught_up:
        lines.append("demo: the processor fell behind the replay; the trends may still move")
    return lines


if __name__ == "__main__":
    sys.exit(main())
