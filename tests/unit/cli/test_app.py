"""trendctl's error handling: one line on stderr, exit code 1 (failures) or 2 (usage)."""

from __future__ import annotations

import asyncio

import pytest
import typer
from aiokafka.errors import KafkaConnectionError
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.operations.cli import main
from streams.operations.cli.app import CliError, reaching, run


def trendctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    captured = capsys.readouterr()
    code = ended.value.code
    return code if isinstance(code, int) else 0, captured.out, captured.err


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("trendctl: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect"], "Missing argument 'plugin'"),
        (["collect", "rss", "-o", "nope"], "--option: expected KEY=VALUE, got 'nope'"),
        (["collect", "rss", "--priority", "12"], "--priority"),
        (["requests", "--state", "RUNNING"], "unknown state RUNNING"),
        (["purge", "no.such.topic", "--yes"], "'no.such.topic' is not a catalog topic"),
        (["dlq", "list", "--since", "someday"], "bad time 'someday'"),
        (["dlq", "redrive", "--topic", "trends.updates"], "has no dead-letter topic"),
        (["trends", "top", "--state", "hot"], "--state"),
        (["topics", "rebuild", "--since", "last week"], "--since: bad time 'last week'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["collect", "nope"], "unknown plugin 'nope'; known: all, file, hackernews"),
        (["trigger", "nope"], "unknown plugin 'nope'"),
        (["collect", "file", "-o", "limit=-1"], "options.limit: must be a whole number >= 0"),
        (["collect", "all", "-o", "plugins=[1]"], "options.plugins: must map plugin names"),
        (["collect", "file", "-o", "since=yesterday"], "options.since: must be an ISO 8601"),
        (["collect", "file", "-o", "x=123456789012345678901234567890"], "64-bit range"),
        (["collect", "file", "--id", "a/b"], "request_id: expected 1 to 200 characters"),
        (["trigger", "file", "--id", "x" * 201], "request_id: expected 1 to 200 characters"),
        (["status", "a/b"], "invalid request id: expected 1 to 200 characters"),
        (["status", "a\nb"], "invalid request id"),
        (["cancel", "a b"], "invalid request id"),
        (["cancel", "x" * 10_000], "(10,000 characters)"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = trendctl(capsys, *args)
    assert code == 2
    assert message in one_line(err)
    assert out == ""


def test_a_bad_setting_is_one_line_and_exit_code_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "nope://x")
    code, _, err = trendctl(capsys, "requests")
    assert code == 1
    assert "invalid configuration: REDIS_URL" in one_line(err)


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = trendctl(capsys, "--help")
    assert code == 0
    for command in ("collect", "status", "requests", "cancel", "inspect", "lag", "dlq", "purge"):
        assert command in out


def test_registered_needs_no_server(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = trendctl(capsys, "inspect", "registered", "--json")
    assert code == 0
    assert '"hackernews"' in out and '"high_frequency"' in out


async def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(
    ("service", "exc"),
    [
        ("Kafka", KafkaConnectionError("Unable to bootstrap from [...]")),
        ("Redis", RedisConnectionError("Error 111 connecting")),
        ("PostgreSQL", ConnectionRefusedError(111, "Connect call failed")),
    ],
)
def test_an_unreachable_server_is_named_with_its_address(service: str, exc: BaseException) -> None:
    async def fails() -> None:
        with reaching(service, "scheme://user:secret@host.example:1234/0"):
            await _raise(exc)

    with pytest.raises(CliError, match=rf"cannot reach {service} at host.example:1234: ") as got:
        asyncio.run(fails())
    assert "secret" not in str(got.value)


def test_run_turns_errors_into_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as ended:
        run(_raise(TimeoutError("no answer\nin time")))
    assert ended.value.exit_code == 1
    assert one_line(capsys.readouterr().err) == "trendctl: timed out: no answer in time"
