"""What a server going away raises is an outage, waited out in place, never a failure of the
work: PostgreSQL connections a busy pool holds, terminated by the server; a Qdrant server
unreachable, cutting a request off, silent or answering 503 (its real client on local sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from qdrant_client import AsyncQdrantClient

from streams.config import Settings
from streams.reliability.retry import is_outage
from streams.servers.db import create_pool
from tests.support.workers import apoll, free_port

ROUNDS = 30
"""Times the server terminates the pool's connections (each round breaks a few operations)."""
_TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


async def _busy(
    pool: asyncpg.Pool, in_transaction: bool, errors: list[Exception], done: asyncio.Event
) -> None:
    """Ask the pool without a pause, as the processor's stages do, until `done`; keep what
    fails. (Not cancelled: a query cancelled while the server drops its connection can leave
    the connection's release waiting for a cancellation nobody answers.)"""
    while not done.is_set():
        try:
            if in_transaction:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute("SELECT 1")
            else:
                await pool.fetch("SELECT generate_series(1, 100)")
        except Exception as exc:  # noqa: BLE001 - every failure is judged below
            errors.append(exc)
        await asyncio.sleep(0)


async def test_connections_the_server_terminates_under_a_busy_pool_are_outages(
    test_settings: Settings,
) -> None:
    pool = await create_pool(test_settings, max_size=4)
    admin = await asyncpg.connect(test_settings.database_url.get_secret_value())
    errors: list[Exception] = []
    done = asyncio.Event()
    tasks = [asyncio.create_task(_busy(pool, n % 2 == 1, errors, done)) for n in range(6)]
    try:
        for _ in range(ROUNDS):
            await asyncio.sleep(0.05)  # the fault's pace: the pool reconnects in between
            await admin.fetchval(_TERMINATE)
    finally:
        done.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await admin.close()
    try:
        assert errors, "the server's terminations broke no operation"
        failures = sorted({f"{type(e).__name__}: {e}" for e in errors if not is_outage(e)})
        assert failures == [], f"{len(errors)} errors, these not outages: {failures}"
        assert await apoll(lambda: _answers(pool), 10), "the pool kept a dropped connection"
    finally:
        await pool.close()


async def _answers(pool: asyncpg.Pool) -> bool:
    """Whether every connection of the pool answers (the server's last farewells read)."""
    try:
        return [await pool.fetchval("SELECT 1") for _ in range(8)] == [1] * 8
    except Exception as exc:
        if not is_outage(exc):
            raise
        return False


async def _closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # never answers; the client gives up first


def _answering(status: str, body: bytes) -> Callable[..., Awaitable[None]]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        head = f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        writer.write(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        writer.close()

    return answer


async def _qdrant_error(serve: Callable[..., Awaitable[None]] | None) -> Exception:
    """What Qdrant's client raises asking for a collection from this server (None: nothing
    listens on the port)."""
    server = await asyncio.start_server(serve, "127.0.0.1", 0) if serve else None
    port = server.sockets[0].getsockname()[1] if server else free_port()
    client = AsyncQdrantClient(url=f"http://127.0.0.1:{port}", timeout=1, check_compatibility=False)
    try:
        with pytest.raises(Exception) as raised:
            await client.collection_exists("items")
        return raised.value
    finally:
        await client.close()
        if server is not None:
            server.close()


@pytest.mark.parametrize(
    ("serve", "outage"),
    [
        (None, True),
        (_closing, True),
        (_silent, True),
        (_answering("503 Service Unavailable", b""), True),
        (_answering("502 Bad Gateway", b""), True),
        (_answering("404 Not Found", b'{"status": {"error": "Not found"}}'), False),
        (_answering("400 Bad Request", b'{"status": {"error": "Wrong input"}}'), False),
    ],
    ids=["refused", "cut-off", "silent", "503", "502", "404", "400"],
)
async def test_a_qdrant_server_away_is_an_outage_and_a_refusal_is_not(
    serve: Callable[..., Awaitable[None]] | None, outage: bool
) -> None:
    error = await _qdrant_error(serve)
    assert is_outage(error) is outage, f"{type(error).__name__}: {error}"
