"""`trendctl dlq list|show|redrive|purge`: the dead letters of the `<topic>.dlq` topics."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from streams.config import Settings
from streams.operations.cli.app import CliError, dlq_app, out, reaching, run, settings
from streams.operations.cli.parsing import AsJson, BadInputError, dead_letter_filter
from streams.operations.cli.render import print_json, table, when
from streams.reliability.deadletter import DeadLetter, DeadLetterFilter, DeadLetters

__all__ = ["list_letters", "purge_letters", "redrive", "show"]

Topic = Annotated[str | None, typer.Option(help="Original topic, e.g. collect.requests.")]
Error = Annotated[str | None, typer.Option(help="Error class, e.g. RecordValidationError.")]
Since = Annotated[str | None, typer.Option(help="Dead since: ISO 8601, epoch or age (2h).")]
Until = Annotated[str | None, typer.Option(help="Dead until: ISO 8601, epoch or age (2h).")]
Ids = Annotated[list[str] | None, typer.Option("--id", help="A dead letter id (repeatable).")]


def _filter(
    topic: str | None,
    error: str | None,
    since: str | None,
    until: str | None,
    ids: list[str] | None,
) -> DeadLetterFilter:
    try:
        return dead_letter_filter(topic, error, since, until, ids)
    except BadInputError as exc:
        raise CliError(str(exc), 2) from None


async def _call(config: Settings, operation: str, *args: Any) -> Any:
    with reaching("Kafka", config.kafka_bootstrap_servers):
        return await getattr(DeadLetters(config), operation)(*args)


@dlq_app.command("list")
def list_letters(
    *,
    topic: Topic = None,
    error: Error = None,
    since: Since = None,
    until: Until = None,
    id_: Ids = None,
    as_json: AsJson = False,
) -> None:
    """The active dead letters, oldest first."""
    where = _filter(topic, error, since, until, id_)
    config = settings()
    letters: list[DeadLetter] = run(_call(config, "entries", where))
    if as_json:
        print_json([_brief(letter) for letter in letters])
        return
    rows = (
        (b["id"], b["topic"], b["key"], b["error_class"], b["attempts"], when(b["dead_at"]))
        for b in map(_brief, letters)
    )
    columns = ("id", "topic", "key", "error", "attempts", "dead at (UTC)")
    out.print(table(f"dead letters ({len(letters)})", columns, rows, keep=("id",)))


def _brief(letter: DeadLetter) -> dict[str, Any]:
    d = letter.describe()
    keep = ("id", "topic", "key", "error_class", "error_message", "attempts", "dead_at")
    return {name: d[name] for name in keep}


@dlq_app.command()
def show(letter_id: Annotated[str, typer.Argument(help="e.g. collect.requests.dlq:0:5")]) -> None:
    """Everything about one dead letter (error, traceback, attempts, history) as JSON."""
    config = settings()
    letter: DeadLetter = run(_call(config, "show", letter_id))
    print_json(letter.describe())


@dlq_app.command()
def redrive(
    *,
    topic: Topic = None,
    error: Error = None,
    since: Since = None,
    until: Until = None,
    id_: Ids = None,
) -> None:
    """Send the matching dead letters back to their original topic."""
    where = _filter(topic, error, since, until, id_)
    done: list[str] = run(_call(settings(), "redrive", where))
    out.print(f"redriven: {len(done)}", markup=False)
    for letter_id in done:
        out.print(f"  {letter_id}", markup=False)


@dlq_app.command("purge")
def purge_letters(
    *,
    topic: Topic = None,
    error: Error = None,
    since: Since = None,
    until: Until = None,
    id_: Ids = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop the matching dead letters (every one without a filter). Asks first."""
    where = _filter(topic, error, since, until, id_)
    if not yes and not typer.confirm("Drop the matching dead letters for good?", default=False):
        raise CliError("purge cancelled, nothing dropped")
    done: list[str] = run(_call(settings(), "purge", where))
    out.print(f"purged: {len(done)}", markup=False)
