"""The `trendctl` application: its command groups, its consoles and its one-line errors."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import asyncpg
import httpx
import typer
from aiokafka.errors import KafkaError
from redis.exceptions import RedisError
from rich.console import Console

from streams.config import Settings, load_settings
from streams.exceptions import TrendStreamError
from streams.requests import client

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CliError",
    "cli",
    "dlq_app",
    "err",
    "fail",
    "inspect_app",
    "main",
    "out",
    "reaching",
    "run",
    "settings",
    "topics_app",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
T = TypeVar("T")

cli = typer.Typer(
    help="trend-stream control: requests, workers, schedules, lag, dead letters, trends.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
inspect_app = typer.Typer(help="What the workers are doing (like `celery inspect`).")
dlq_app = typer.Typer(help="Dead letters: list, show, redrive, purge.")
backup_app = typer.Typer(help="Database backups.")
trends_app = typer.Typer(help="Trends from PostgreSQL.")
topics_app = typer.Typer(help="Topics: what rebuilding them from the log would change.")
cli.add_typer(inspect_app, name="inspect", no_args_is_help=True)
cli.add_typer(dlq_app, name="dlq", no_args_is_help=True)
cli.add_typer(backup_app, name="backup", no_args_is_help=True)
cli.add_typer(trends_app, name="trends", no_args_is_help=True)
cli.add_typer(topics_app, name="topics", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliError(Exception):
    """Ends the command with `trendctl: <message>` on stderr and `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@cli.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show library logs.")] = False,
) -> None:
    """trend-stream control: requests, workers, schedules, lag, dead letters, trends."""
    if verbose:
        logging.disable(logging.NOTSET)
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)


def settings() -> Settings:
    """The settings from the environment (a bad variable ends the command with one line)."""
    return load_settings()


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print `trendctl: <message>` (one line) on stderr and exit with `code`."""
    line = " ".join(str(message).split()) or "failed"
    err.print(f"trendctl: {line}", markup=False)
    raise typer.Exit(code)


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.hostname else url


_ERRORS: dict[str, tuple[type[BaseException], ...]] = {
    "Kafka": (KafkaError,),
    "Redis": (RedisError,),
    "PostgreSQL": (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.InvalidAuthorizationSpecificationError,
        asyncpg.InvalidCatalogNameError,
        asyncpg.CannotConnectNowError,
    ),
    "HTTP": (httpx.HTTPError,),
}


@contextmanager
def reaching(service: str, address: str) -> Iterator[None]:
    """Turn a connection failure of `service` (Kafka, Redis, PostgreSQL, HTTP) into a CliError
    naming it and its address; other errors pass through."""
    try:
        yield
    except _ERRORS[service] as exc:
        where = _address(address) if "://" in address else address
        raise CliError(f"cannot reach {service} at {where}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; any failure becomes one line on stderr and exit code 1."""
    try:
        return asyncio.run(_closing(work))
    except CliError as exc:
        fail(str(exc), exc.code)
    except (TrendStreamError, LookupError, ValueError) as exc:
        fail(str(exc))
    except TimeoutError as exc:
        fail(f"timed out: {exc}" if str(exc) else "timed out")
    except (KafkaError, RedisError, OSError, asyncpg.PostgresError, httpx.HTTPError) as exc:
        fail(_reason(exc))


async def _closing(work: Coroutine[Any, Any, T]) -> T:
    """The command's work, then the client's producer stopped in the same event loop."""
    try:
        return await work
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors as one line too (exit code 2)."""
    logging.disable(logging.CRITICAL)
    command = typer.main.get_command(cli)
    try:
        code = command.main(args=argv, prog_name="trendctl", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: the vendored click's UsageError
        code = _usage(exc)
    except typer.Abort:
        err.print("trendctl: aborted", markup=False)
        code = EXIT_FAILED
    except CliError as exc:
        err.print(f"trendctl: {exc}", markup=False)
        code = exc.code
    except TrendStreamError as exc:
        err.print(f"trendctl: {' '.join(str(exc).split())}", markup=False)
        code = EXIT_FAILED
    sys.exit(code if isinstance(code, int) else 0)


def _usage(exc: typer.TyperException) -> int:
    """One line for a usage error (the help was printed already when no arguments were given)."""
    if type(exc).__name__ != "NoArgsIsHelpError":
        err.print(f"trendctl: {' '.join(exc.format_message().split())}", markup=False)
    code = getattr(exc, "exit_code", EXIT_USAGE)
    return code if isinstance(code, int) else EXIT_USAGE
