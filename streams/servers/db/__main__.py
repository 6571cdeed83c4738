"""Command line of the database package: `python -m streams.servers.db migrate|status`."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from streams.config import get_settings
from streams.exceptions import TrendStreamError
from streams.servers.db.migrations import discover, migrate


async def _status(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        rows = await conn.fetch("SELECT version FROM schema_migrations") if exists else []
    finally:
        await conn.close()
    done = {row["version"] for row in rows}
    return [
        f"{m.version:04d}_{m.name}: {'applied' if m.version in done else 'pending'}"
        for m in discover()
    ]


def main(argv: list[str]) -> int:
    """Run `migrate` (apply pending migrations) or `status` (list them)."""
    command = argv[1] if len(argv) > 1 else ""
    try:
        dsn = get_settings().database_url.get_secret_value()
        if command == "migrate":
            applied = asyncio.run(migrate(dsn))
            print(
                f"{len(applied)} migration(s) applied"
                + "".join(f"\n  {m.version:04d}_{m.name}" for m in applied)
            )
        elif command == "status":
            print("\n".join(asyncio.run(_status(dsn))))
        else:
            print("usage: python -m streams.servers.db migrate|status", file=sys.stderr)
            return 2
    except TrendStreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
