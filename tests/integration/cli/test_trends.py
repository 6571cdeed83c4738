"""`trendctl trends top` against the real PostgreSQL: representative titles, 80 columns."""

from __future__ import annotations

import asyncpg

from streams.config import Settings
from tests.integration.cli.conftest import Trendctl

TITLE = "Backdoor found in libvarn release tarballs, planted by a co-maintainer over two years"


async def _topics(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await conn.executemany(
            "INSERT INTO topics (id, label, keywords, item_count, representative_title) "
            "VALUES ($1, $2, $3, $4, $5)",
            [
                ("t-libvarn", "libvarn backdoor", ["libvarn", "backdoor", "tarball"], 31, TITLE),
                ("t-aurora", "aurora storm", ["aurora", "storm"], 12, None),
            ],
        )
        await conn.executemany(
            "INSERT INTO trends (topic_id, state, score, rank) VALUES ($1, $2, $3, $4)",
            [("t-libvarn", "trending", 42.5, 1), ("t-aurora", "declining", 3.0, 2)],
        )
    finally:
        await conn.close()


async def test_trends_top_shows_the_representative_title(
    trendctl: Trendctl, test_settings: Settings
) -> None:
    await _topics(test_settings)
    ran = await trendctl("trends", "top", "--json")
    assert ran.code == 0, ran.err
    assert [t["representative_title"] for t in ran.json()] == [TITLE, ""]
    wide = await trendctl("trends", "top")
    assert TITLE in wide.out and "libvarn, backdoor, tarball" in wide.out
    assert "aurora storm" in wide.out  # no title yet: the label stands in


async def test_trends_top_fits_80_columns(trendctl: Trendctl, test_settings: Settings) -> None:
    await _topics(test_settings)
    ran = await trendctl("trends", "top", env={"COLUMNS": "80"})
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert lines and all(len(line) <= 80 for line in lines), ran.out
    rows = [line for line in lines if line.lstrip()[:1].isdigit()]
    assert len(rows) == 2, ran.out  # one line per trend, cut rather than wrapped
    assert "trending" in rows[0] and "42.50" in rows[0] and "Backdoor found in libvarn" in rows[0]
    assert "declining" in rows[1]
