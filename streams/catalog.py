"""What trend-stream offers: its jobs (service, options, schedule), groups and built-in plugins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # the settings are built from this catalog's schedules
    from streams.config import ServiceName, Settings

__all__ = [
    "BUILTIN_PLUGINS",
    "GROUPS",
    "JOBS",
    "PLUGIN_ENTRY_POINTS",
    "AnalyticsOptions",
    "BuiltinPlugin",
    "CleanupOptions",
    "Cron",
    "EmbeddingOptions",
    "Group",
    "Job",
    "JobOptions",
    "JobService",
    "NoOptions",
    "Scheduled",
    "SweepOptions",
    "TestPipelineOptions",
    "group",
    "group_names",
    "job_names",
    "jobs",
    "option_schemas",
    "schedules",
]

JobService = Literal["processor", "maintenance"]
"""The services that run jobs on request (`process.requests`, `maintenance.requests`)."""
PLUGIN_ENTRY_POINTS = "trend_stream.plugins"
"""The entry-point group of plugins installed beside trend-stream."""


# -- the options a job accepts -------------------------------------------------------------


class JobOptions(BaseModel):
    """Base of the options a job declares: unknown options are refused and types are strict
    (`"5"` is not a number, `"yes"` not a boolean). Subclass it once per job, e.g.

        class CleanupOptions(JobOptions):
            defaults: ClassVar[Mapping[str, str]] = {"days": "CLEANUP_DAYS"}
            days: int = Field(ge=1)

    The job runner checks them once, with `of` (streams.requests.jobs), and hands them to
    the job's handler.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    defaults: ClassVar[Mapping[str, str]] = {}
    """Option -> the setting giving its default (`limit` -> `SWEEP_LIMIT`): a request leaving
    the option out takes the setting's value, and so does each scheduled run."""

    @classmethod
    def of(cls, options: Mapping[str, Any], settings: Settings) -> Self:
        """A request's options, those it leaves out taken from `settings` (ValidationError
        when one is wrong)."""
        given = {option: _setting(settings, name) for option, name in cls.defaults.items()}
        return cls.model_validate({**given, **options})


class NoOptions(JobOptions):
    """The options of a job that takes none."""


class TestPipelineOptions(JobOptions):
    """`items` (a list of items) or `path` (a JSONL file inside FILE_PLUGIN_DIR), and
    `sample_size` (items taken, default 10)."""

    __test__ = False  # not a pytest test class, whatever its name

    items: list[dict[str, Any]] | None = None
    path: str | None = Field(None, min_length=1)
    sample_size: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> TestPipelineOptions:
        if (self.items is None) == (self.path is None):
            raise ValueError("test_pipeline needs option 'items' (a list of items) or 'path'")
        return self


class SweepOptions(JobOptions):
    """`limit`: stored items never processed that are sent back (default SWEEP_LIMIT)."""

    defaults: ClassVar[Mapping[str, str]] = {"limit": "SWEEP_LIMIT"}
    limit: int = Field(ge=1)


class EmbeddingOptions(JobOptions):
    """`batch_size` items embedded at once (default 100), at most `limit` (default 1000); no
    setting changes these defaults."""

    batch_size: int = Field(100, ge=1)
    limit: int = Field(1000, ge=1)


class RebuildOptions(JobOptions):
    """`hours`: the span of items.enriched replayed, back from now (default 168, a week, the
    topic's retention); `top`: trends listed before and after (default 10)."""

    hours: int = Field(168, ge=1)
    top: int = Field(10, ge=1, le=100)


class CleanupOptions(JobOptions):
    """`days`: data older than this many days is deleted (default CLEANUP_DAYS)."""

    defaults: ClassVar[Mapping[str, str]] = {"days": "CLEANUP_DAYS"}
    days: int = Field(ge=1)


class AnalyticsOptions(JobOptions):
    """`day`: the ISO date whose figures are computed (default yesterday, UTC)."""

    day: date | None = Field(None, strict=False)


# -- what the catalog holds ----------------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    """A default schedule: the setting holding its cron, its default cron, and the settings a
    run's options take.

    Settings are named by their environment variable (`SCHEDULE_HEALTH`). The cron's setting is
    made from this entry, a field of its service's section (streams.config) with `default` as its
    default; an empty cron switches the schedule off.
    """

    setting: str
    default: str
    """The cron expression unless the environment sets another (five fields, or six)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Option of each scheduled run -> the setting giving its value (`limit` -> `SWEEP_LIMIT`):
    a job's are its options' defaults (JobOptions.defaults), set by `schedules`."""

    def cron(self, settings: Settings) -> str:
        """The cron expression `settings` give (empty: off)."""
        value: str = _setting(settings, self.setting)
        return value

    def run_options(self, settings: Settings) -> dict[str, Any]:
        """The options of a scheduled run, from `settings`."""
        return {option: _setting(settings, name) for option, name in self.options.items()}

    def settings(self) -> tuple[str, ...]:
        """Every setting this schedule reads."""
        return (self.setting, *self.options.values())


def _setting(settings: Settings, variable: str) -> Any:
    return getattr(settings, variable.lower())


@dataclass(frozen=True)
class Job:
    """A job on request: the service that runs it, its options and its default schedule."""

    name: str
    service: JobService
    summary: str
    options: type[JobOptions] = NoOptions
    schedule: Cron | None = None
    """None: run on request only."""


@dataclass(frozen=True)
class Group:
    """A collection group: fanned out to one child request per member plugin."""

    name: str
    summary: str
    frequency: Literal["high"] | None = None
    """Only the plugins of this frequency; None: every plugin that joins groups."""
    schedule: Cron | None = None


@dataclass(frozen=True)
class BuiltinPlugin:
    """A plugin shipped with trend-stream, loaded by the collector like an entry point."""

    name: str
    target: str
    """`module:Class` of the plugin (a collector module: named here, never imported)."""


@dataclass(frozen=True)
class Scheduled:
    """A leader schedule of a service and what each of its slots requests."""

    service: ServiceName
    name: str
    """The schedule's name (NAMESPACE + this is claimed in `schedule_runs`)."""
    target: str
    """The group collected, or the job run."""
    cron: Cron
    summary: str
    """What the group or job does."""

    @property
    def runs(self) -> str:
        """What a slot triggers, e.g. `collect all`, `maintenance health`."""
        verb = {"collector": "collect", "processor": "process"}.get(self.service, self.service)
        return f"{verb} {self.target}"

    @property
    def description(self) -> str:
        """The description of its cron's setting, e.g. in the configuration reference."""
        taken = ", ".join(f"`{option}` from {name}" for option, name in self.cron.options.items())
        options = f" with {taken}" if taken else ""
        return f"{self.cron.setting}: cron of `{self.runs}` ({self.summary}){options}; empty: off."


JOBS: tuple[Job, ...] = (
    Job(
        "sweep",
        "processor",
        "send stored items never processed back through items.raw; delete queued vectors",
        SweepOptions,
        Cron("SCHEDULE_SWEEP", "*/30 * * * *"),
    ),
    Job(
        "generate_embeddings",
        "processor",
        "vectors for processed items that have none",
        EmbeddingOptions,
    ),
    Job(
        "test_pipeline",
        "processor",
        "both pipeline stages on sample items, in memory",
        TestPipelineOptions,
    ),
    Job(
        "rebuild_topics",
        "processor",
        "replay items.enriched of the last `hours` through a shadow cluster stage of the "
        "current settings and report how the topics would change (a dry run: nothing written)",
        RebuildOptions,
    ),
    Job(
        "cleanup_data",
        "processor",
        "delete the processor's data older than `days` and its vectors (the maintenance "
        "cleanup requests it)",
        CleanupOptions,
    ),
    Job(
        "health",
        "maintenance",
        "every health check",
        schedule=Cron("SCHEDULE_HEALTH", "*/5 * * * *"),
    ),
    Job(
        "cleanup",
        "maintenance",
        "delete data older than `days` and its vectors",
        CleanupOptions,
        Cron("SCHEDULE_CLEANUP", "0 3 * * *"),
    ),
    Job(
        "plugin_health",
        "maintenance",
        "judge each plugin's recent runs; flag failing ones",
        schedule=Cron("SCHEDULE_PLUGIN_HEALTH", "*/30 * * * *"),
    ),
    Job(
        "analytics",
        "maintenance",
        "a day's figures, stored",
        AnalyticsOptions,
        Cron("SCHEDULE_ANALYTICS", "30 0 * * *"),
    ),
    Job(
        "backup",
        "maintenance",
        "pg_dump, verified and rotated",
        schedule=Cron("SCHEDULE_BACKUP", "0 2 * * *"),
    ),
    Job("lag", "maintenance", "sample and judge every service group's lag now"),
)
"""Every job on request, in the order the documentation lists them."""

GROUPS: tuple[Group, ...] = (
    Group(
        "all", "every enabled plugin that joins groups", schedule=Cron("SCHEDULE_ALL", "0 * * * *")
    ),
    Group(
        "high_frequency",
        "the enabled plugins of frequency `high`",
        frequency="high",
        schedule=Cron("SCHEDULE_HIGH_FREQUENCY", "*/15 * * * *"),
    ),
)
"""The collection groups."""

BUILTIN_PLUGINS: tuple[BuiltinPlugin, ...] = (
    BuiltinPlugin("hackernews", "services.collector.plugins.hackernews:HackerNewsPlugin"),
    BuiltinPlugin("reddit", "services.collector.plugins.reddit:RedditPlugin"),
    BuiltinPlugin("rss", "services.collector.plugins.rss:RssPlugin"),
    BuiltinPlugin("mastodon", "services.collector.plugins.mastodon:MastodonPlugin"),
    BuiltinPlugin("file", "services.collector.plugins.file:FilePlugin"),
)
"""The plugins every collector has (besides `trend_stream.plugins` entry points)."""


def jobs(service: JobService | None = None) -> tuple[Job, ...]:
    """The jobs of one service, or every job."""
    return tuple(job for job in JOBS if service is None or job.service == service)


def job_names(service: JobService) -> frozenset[str]:
    """The names of a service's jobs."""
    return frozenset(job.name for job in jobs(service))


def option_schemas(service: JobService) -> dict[str, type[JobOptions]]:
    """The declared options of each job of a service, by job name."""
    return {job.name: job.options for job in jobs(service)}


def group(name: str) -> Group | None:
    """The group of that name (None: not a group)."""
    return next((found for found in GROUPS if found.name == name), None)


def group_names() -> tuple[str, ...]:
    """The group names, in catalog order."""
    return tuple(found.name for found in GROUPS)


def schedules(service: ServiceName | None = None) -> tuple[Scheduled, ...]:
    """The default schedules of one service (or all): the collector's groups, then the jobs."""
    found = [
        Scheduled("collector", f"collect_{entry.name}", entry.name, entry.schedule, entry.summary)
        for entry in GROUPS
        if entry.schedule is not None
    ]
    found += [
        Scheduled(
            job.service,
            job.name,
            job.name,
            replace(job.schedule, options=job.options.defaults),
            job.summary,
        )
        for job in JOBS
        if job.schedule is not None
    ]
    return tuple(entry for entry in found if service is None or entry.service == service)
