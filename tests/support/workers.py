"""Faust workers in subprocesses, as `faust -A services.<name> worker` runs them."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from streams import catalog
from streams.config import ServiceName, Settings

_CHOOSE = random.SystemRandom()
_LOWEST_PORT = 10_000


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive TCP ports nobody listens on right now.

    Chosen below the kernel's ephemeral range: a port the kernel hands out (to any client
    socket, e.g. a connection to Kafka) could be taken between this check and the server's bind;
    one below the range is only ever taken by a server binding it on purpose.
    """
    high = _ephemeral_low() - count
    for _ in range(500):
        first = _CHOOSE.randrange(_LOWEST_PORT, high)
        if all(_bindable(first + n) for n in range(count)):
            return first
    raise AssertionError(f"no {count} consecutive free ports below {high + count}")


def without_schedules(settings: Settings) -> Settings:
    """The settings with every leader schedule of the catalog off: a test's requests, dead
    letters and runs are its own (a collector started at 14:45 otherwise catches up the 14:00
    collection and dead-letters the unreachable public sources beside the test's poison)."""
    return settings.model_copy(
        update={entry.cron.setting.lower(): "" for entry in catalog.schedules()}
    )


def free_port() -> int:
    """A TCP port nobody listens on right now (see free_ports)."""
    return free_ports(1)


def env_value(value: object) -> str:
    """A setting's value as its environment variable would spell it."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, dict):
        return ",".join(f"{key}={number}" for key, number in value.items())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce these settings in a subprocess."""
    return {
        name.upper(): env_value(getattr(settings, name))
        for name in Settings.model_fields
        if getattr(settings, name) is not None
    }


def poll(check: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """Call check() until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


async def apoll(check: Callable[[], Awaitable[Any]], timeout: float, interval: float = 0.1) -> Any:
    """Await check() until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


@dataclass
class Worker:
    """A running worker subprocess and where to reach it."""

    service: ServiceName
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> httpx.Response | None:
        """GET /health, or None while nothing answers."""
        try:
            return httpx.get(f"{self.url}/health", timeout=2.0)
        except httpx.HTTPError:
            return None

    def wait_ready(self, timeout: float = 90.0) -> dict[str, Any]:
        """Wait until /health is 200 and the worker has partitions; return the report."""

        def ready() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.service} exited early:\n{self.output()[-3000:]}")
            response = self.health()
            report = (
                response.json() if response is not None and response.status_code == 200 else None
            )
            return report if report and report["assignment"] else None

        report = poll(ready, timeout)
        if not report:
            raise TimeoutError(f"{self.service} not ready in {timeout}s:\n{self.output()[-3000:]}")
        return report

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise

    def output(self) -> str:
        """Everything the worker printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_worker(service: ServiceName, settings: Settings, folder: Path) -> Worker:
    """Start `faust -A services.<service> worker -l info` with these settings, on a free port."""
    port = free_port()
    env = {**os.environ, **settings_env(settings), f"{service.upper()}_WEB_PORT": str(port)}
    log = folder / f"{service}-{port}.log"
    folder.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["faust", "-A", f"services.{service}", "worker", "-l", "info"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )
    return Worker(service, process, port, log)
