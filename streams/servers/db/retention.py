"""Old rows of a table deleted in short transactions, a batch at a time (each owner's cleanup)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

__all__ = ["CleanupReport", "Target", "delete_old"]

_ROWS = """
WITH gone AS (
    DELETE FROM {table} WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM {table} WHERE {old} LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING 1
)
SELECT count(*) FROM gone
"""


@dataclass
class CleanupReport:
    """What a cleanup removed: rows per table, vectors, and vector deletions still owed."""

    cutoff: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    vectors_deleted: int = 0
    vectors_pending: int = 0
    vectors_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {**asdict(self), "cutoff": self.cutoff.isoformat()}


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
