"""Typed settings for every trend-stream service, read once from environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.exceptions import ConfigurationError

__all__ = ["ServiceName", "Settings", "get_settings", "load_settings"]

ServiceName = Literal["collector", "processor", "maintenance"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_SECRET_VARIABLES = frozenset({"DATABASE_URL", "API_TOKEN"})
_NAMESPACE = re.compile(r"^[A-Za-z0-9._-]*$")


class Settings(BaseSettings):
    """All configuration, one field per environment variable (the field name, upper-cased)."""

    model_config = SettingsConfigDict(frozen=True, case_sensitive=False, extra="ignore")

    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        description="KAFKA_BOOTSTRAP_SERVERS: comma-separated host:port list of Kafka brokers.",
    )
    database_url: SecretStr = Field(
        SecretStr("postgresql://trend:trend@127.0.0.1:5432/trend"),
        description="DATABASE_URL: PostgreSQL DSN (postgresql://user:password@host:port/db).",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="REDIS_URL: Redis URL (redis://host:port/db)."
    )
    qdrant_url: str | None = Field(
        None, description="QDRANT_URL: Qdrant server URL; when unset, local mode at QDRANT_PATH."
    )
    qdrant_path: Path = Field(
        Path(".state/qdrant"), description="QDRANT_PATH: folder of Qdrant's local mode."
    )
    collector_web_host: str = Field(
        "127.0.0.1", description="COLLECTOR_WEB_HOST: address the collector's web views bind to."
    )
    collector_web_port: int = Field(
        6066, ge=1, le=65535, description="COLLECTOR_WEB_PORT: collector web port."
    )
    processor_web_host: str = Field(
        "127.0.0.1", description="PROCESSOR_WEB_HOST: address the processor's web views bind to."
    )
    processor_web_port: int = Field(
        6067, ge=1, le=65535, description="PROCESSOR_WEB_PORT: processor web port."
    )
    maintenance_web_host: str = Field(
        "127.0.0.1",
        description="MAINTENANCE_WEB_HOST: address the maintenance worker's web views bind to.",
    )
    maintenance_web_port: int = Field(
        6068, ge=1, le=65535, description="MAINTENANCE_WEB_PORT: maintenance web port."
    )
    topic_partitions: int = Field(
        4, ge=1, le=1000, description="TOPIC_PARTITIONS: default partition count of catalog topics."
    )
    topic_replication_factor: int = Field(
        1, ge=1, le=10, description="TOPIC_REPLICATION_FACTOR: replication factor of new topics."
    )
    namespace: str = Field(
        "",
        description="NAMESPACE: prefix of every topic name and consumer group (isolates "
        "environments or test runs sharing one cluster).",
    )
    state_dir: Path = Field(
        Path(".state"), description="STATE_DIR: folder for worker state, local stack data and logs."
    )
    file_plugin_dir: Path = Field(
        Path("."), description="FILE_PLUGIN_DIR: the `file` plugin reads only files inside it."
    )
    log_level: LogLevel = Field("INFO", description="LOG_LEVEL: DEBUG, INFO, WARNING or ERROR.")
    api_token: SecretStr = Field(
        SecretStr(""), description="API_TOKEN: bearer token required by every web action."
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        hosts = [part.strip() for part in value.split(",") if part.strip()]
        bad = [host for host in hosts if not _HOST_PORT.match(host)]
        if not hosts or bad:
            raise ValueError(f"expected host:port[,host:port...], got {value!r}")
        return ",".join(hosts)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"expected a redis:// URL, got {value!r}")
        return value

    @field_validator("qdrant_url")
    @classmethod
    def _check_qdrant_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s):// URL, got {value!r}")
        return value or None

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not _NAMESPACE.match(value):
            raise ValueError(f"only letters, digits, '.', '_' and '-' are allowed, got {value!r}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def web_address(self, service: ServiceName) -> tuple[str, int]:
        """Return the (host, port) the given service's web views bind to."""
        host: str = getattr(self, f"{service}_web_host")
        port: int = getattr(self, f"{service}_web_port")
        return host, port

    @property
    def bootstrap_list(self) -> list[str]:
        """The bootstrap servers as a list."""
        return self.kafka_bootstrap_servers.split(",")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise ConfigurationError naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        variable = str(error["loc"][0]).upper() if error["loc"] else "?"
        shown = "<hidden>" if variable in _SECRET_VARIABLES else repr(error.get("input"))
        problems.append(f"{variable}={shown}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
