"""Old rows of a table deleted in short transactions, a batch at a time (each owner's cleanup)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

__all__ = ["Target", "delete_old"]

_ROWS = """
WITH gone AS (
    DELETE FROM {table} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM {table} WHERE {old} LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING 1
)
SELECT count(*) FROM gone
"""


@dataclass(frozen=True)
class Target:
    """A table a cleanup deletes from, and which of its rows are old (`$1`: the cutoff)."""

    table: str
    old: str


async def delete_old(
    pool: asyncpg.Pool,
    target: Target,
    cutoff: datetime,
    size: int,
    *,
    statement: str = _ROWS,
    extra: tuple[object, ...] = (),
) -> int:
    """Delete the target's old rows, at most `size` per transaction (short locks); how many.

    `statement`: one batch's SQL, formatted with `table` and `old`, given `$1` the cutoff, `$2`
    the batch size, then `extra`, and answering the count of rows it deleted.
    """
    sql = statement.format(table=target.table, old=target.old)
    total = 0
    while (done := int(await pool.fetchval(sql, cutoff, size, *extra))) > 0:
        total += done
        if done < size:
            break
    return total
