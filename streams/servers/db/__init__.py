"""PostgreSQL access: the connection pool and the schema migrations."""

from streams.servers.db.migrations import Migration, discover, migrate
from streams.servers.db.pool import create_pool

__all__ = ["Migration", "create_pool", "discover", "migrate"]
