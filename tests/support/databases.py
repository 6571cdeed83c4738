"""Throwaway PostgreSQL databases on the test server, one per test."""

from __future__ import annotations

import uuid

import asyncpg


def _admin_dsn(dsn: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/postgres"


async def create_database(dsn: str) -> tuple[str, str]:
    """A new empty database beside the one of `dsn`; returns (name, its dsn)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_admin_dsn(dsn))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, dsn.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(dsn: str, name: str) -> None:
    """Drop a database made by create_database, closing whatever still uses it."""
    admin = await asyncpg.connect(_admin_dsn(dsn))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
