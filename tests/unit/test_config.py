"""Settings: every variable parsed from the environment, bad values named in one clear line."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import ClassVar
from unittest.mock import MagicMock

import pytest
from pydantic import Field, ValidationError

from streams import config
from streams.config import (
    EMBEDDING_FIELDS,
    SECTION_ENTRY_POINT_GROUP,
    SECTIONS,
    PipelineSettings,
    PluginSection,
    RedditSettings,
    ServerSettings,
    Settings,
    load_settings,
    pipeline_config,
)
from streams.exceptions import ConfigurationError
from streams.pipeline import PipelineConfig

GOOD_VALUES = {
    "KAFKA_BOOTSTRAP_SERVERS": ("k1:9092, k2:9093", "k1:9092,k2:9093"),
    "DATABASE_URL": ("postgresql://u:p@db:5433/x", "postgresql://u:p@db:5433/x"),
    "REDIS_URL": ("redis://cache:6380/2", "redis://cache:6380/2"),
    "QDRANT_URL": ("http://qdrant:6333", "http://qdrant:6333"),
    "QDRANT_PATH": ("/data/qdrant", Path("/data/qdrant")),
    "COLLECTOR_WEB_HOST": ("0.0.0.0", "0.0.0.0"),
    "COLLECTOR_WEB_PORT": ("7001", 7001),
    "PROCESSOR_WEB_HOST": ("0.0.0.0", "0.0.0.0"),
    "PROCESSOR_WEB_PORT": ("7002", 7002),
    "MAINTENANCE_WEB_HOST": ("0.0.0.0", "0.0.0.0"),
    "MAINTENANCE_WEB_PORT": ("7003", 7003),
    "DEMO_WEB_PORT": ("7004", 7004),
    "TOPIC_PARTITIONS": ("12", 12),
    "BROKER_SESSION_TIMEOUT_S": ("10", 10.0),
    "BROKER_HEARTBEAT_INTERVAL_S": ("2", 2.0),
    "TOPIC_REPLICATION_FACTOR": ("3", 3),
    "NAMESPACE": ("staging.", "staging."),
    "STATE_DIR": ("/var/lib/ts", Path("/var/lib/ts")),
    "FILE_PLUGIN_DIR": ("/srv/replays", Path("/srv/replays")),
    "LOG_LEVEL": ("debug", "DEBUG"),
    "API_TOKEN": ("s3cret", "s3cret"),
    "PLUGINS_ENABLED": ("reddit, rss", ("reddit", "rss")),
    "PLUGINS_DISABLED": ("file", ("file",)),
    "PLUGIN_RATE_LIMITS": ("reddit=30, rss=5", {"reddit": 30, "rss": 5}),
    "HTTP_USER_AGENT": ("bot/1.0", "bot/1.0"),
    "HTTP_TIMEOUT_S": ("2.5", 2.5),
    "HTTP_MAX_RETRIES": ("5", 5),
    "HTTP_BACKOFF_S": ("0.5", 0.5),
    "HTTP_BACKOFF_MAX_S": ("60", 60.0),
    "HTTP_RETRY_AFTER_MAX_S": ("30", 30.0),
    "HTTP_CONCURRENCY": ("4", 4),
    "HACKERNEWS_BASE_URL": ("http://hn.local/", "http://hn.local"),
    "HACKERNEWS_LISTS": ("top", ("top",)),
    "HACKERNEWS_LIMIT": ("20", 20),
    "REDDIT_BASE_URL": ("http://reddit.local", "http://reddit.local"),
    "REDDIT_SUBREDDITS": ("python,rust", ("python", "rust")),
    "REDDIT_LISTINGS": ("hot,new", ("hot", "new")),
    "REDDIT_LIMIT": ("25", 25),
    "RSS_FEEDS": ("http://a/feed.xml, http://b/atom", ("http://a/feed.xml", "http://b/atom")),
    "MASTODON_BASE_URL": ("https://fosstodon.org", "https://fosstodon.org"),
    "MASTODON_LIMIT": ("10", 10),
    "MASTODON_INCLUDE_TAGS": ("false", False),
    "COLLECTOR_CONCURRENCY": ("8", 8),
    "COLLECTOR_PRIORITY_CONCURRENCY": ("3", 3),
    "MAX_REQUEST_BYTES": ("2048", 2048),
    "COLLECT_MAX_RETRIES": ("5", 5),
    "PROCESS_MAX_RETRIES": ("0", 0),
    "MAINTENANCE_MAX_RETRIES": ("4", 4),
    "RETRY_BACKOFF_S": ("0.5", 0.5),
    "RETRY_BACKOFF_MAX_S": ("60", 60.0),
    "RETRY_JITTER": ("false", False),
    "OUTAGE_RETRY_MAX_S": ("5", 5.0),
    "DEAD_LETTER_MAX_BYTES": ("2097152", 2_097_152),
    "COLLECT_SOFT_TIME_LIMIT_S": ("30", 30.0),
    "COLLECT_HARD_TIME_LIMIT_S": ("60", 60.0),
    "PLUGIN_SOFT_TIME_LIMITS": ("reddit=120,rss=60", {"reddit": 120, "rss": 60}),
    "PLUGIN_HARD_TIME_LIMITS": ("reddit=240", {"reddit": 240}),
    "REVOKE_CHECK_S": ("0.2", 0.2),
    "JOB_SOFT_TIME_LIMIT_S": ("60", 60.0),
    "JOB_HARD_TIME_LIMIT_S": ("120", 120.0),
    "DRY_RUN_SAMPLE_SIZE": ("3", 3),
    "REQUEST_STATE_TTL_S": ("3600", 3600),
    "SEEN_ITEMS_TTL_S": ("0", 0),
    "SCHEDULE_ALL": ("30 2 * * *", "30 2 * * *"),
    "SCHEDULE_HIGH_FREQUENCY": ("", ""),
    "SCHEDULE_TIMEZONE": ("Europe/Paris", "Europe/Paris"),
    "SCHEDULE_CATCHUP_MAX_AGE_S": ("600", 600),
    "SCHEDULE_CHECK_INTERVAL_S": ("5", 5.0),
    "PROCESSOR_BATCH_SIZE": ("500", 500),
    "PROCESSOR_BATCH_WITHIN_S": ("0.5", 0.5),
    "EMBEDDING_MODEL_PATH": ("/models/minilm", "/models/minilm"),
    "EMBEDDING_BACKEND": ("onnx", "onnx"),
    "EMBEDDING_ONNX_PATH": ("/models/minilm-onnx", Path("/models/minilm-onnx")),
    "SCHEDULE_SWEEP": ("0 */2 * * *", "0 */2 * * *"),
    "SWEEP_LIMIT": ("50", 50),
    "SCHEDULE_HEALTH": ("*/1 * * * *", "*/1 * * * *"),
    "SCHEDULE_CLEANUP": ("0 4 * * *", "0 4 * * *"),
    "SCHEDULE_PLUGIN_HEALTH": ("", ""),
    "SCHEDULE_ANALYTICS": ("0 1 * * *", "0 1 * * *"),
    "SCHEDULE_BACKUP": ("0 5 * * 0", "0 5 * * 0"),
    "CLEANUP_DAYS": ("7", 7),
    "CLEANUP_BATCH_SIZE": ("200", 200),
    "HEALTH_WORKERS": ("processor, collector", ("processor", "collector")),
    "HEALTH_TIMEOUT_S": ("1.5", 1.5),
    "HEALTH_DISK_MAX_PERCENT": ("95", 95.0),
    "HEALTH_MEMORY_MAX_PERCENT": ("80", 80.0),
    "PLUGIN_HEALTH_WINDOW_H": ("6", 6),
    "PLUGIN_FAILURE_THRESHOLD": ("0.25", 0.25),
    "PLUGIN_HEALTH_MIN_RUNS": ("10", 10),
    "PLUGIN_AUTO_DISABLE": ("true", True),
    "BACKUP_DIR": ("/backups", Path("/backups")),
    "BACKUP_KEEP": ("3", 3),
    "PG_BIN_DIR": ("/usr/lib/postgresql/15/bin", Path("/usr/lib/postgresql/15/bin")),
    "LAG_SAMPLE_INTERVAL_S": ("5", 5.0),
    "LAG_WINDOW": ("4", 4),
    "LAG_ALERT_THRESHOLD": ("500", 500),
    "DASHBOARD_REFRESH_S": ("1.5", 1.5),
}

GOOD_VALUES |= {
    f"PIPELINE_{knob.name.upper()}": (str(value), value)
    for knob in fields(PipelineConfig)
    if knob.name not in EMBEDDING_FIELDS
    for value in [not knob.default if isinstance(knob.default, bool) else knob.default * 2 + 1]
}
"""Each knob of the trend pipeline (PIPELINE_*), at a value other than its default."""

BAD_VALUES = {
    "KAFKA_BOOTSTRAP_SERVERS": ("localhost", "expected host:port"),
    "DATABASE_URL": ("mysql://x", "expected a postgresql:// URL"),
    "REDIS_URL": ("localhost:6379", "expected a redis:// URL"),
    "QDRANT_URL": ("qdrant:6333", "expected an http(s):// URL"),
    "COLLECTOR_WEB_PORT": ("http", "valid integer"),
    "PROCESSOR_WEB_PORT": ("70000", "less than or equal to 65535"),
    "TOPIC_PARTITIONS": ("0", "greater than or equal to 1"),
    "BROKER_SESSION_TIMEOUT_S": ("3", "greater than or equal to 6"),
    "NAMESPACE": ("a b", "only letters"),
    "LOG_LEVEL": ("LOUD", "DEBUG"),
    "PLUGIN_RATE_LIMITS": ("reddit", "expected name=N[,name=N...]"),
    "HACKERNEWS_BASE_URL": ("hn.local", "expected an http(s):// URL"),
    "SCHEDULE_ALL": ("hourly", "not a cron expression"),
    "SCHEDULE_TIMEZONE": ("Mars/Olympus", "unknown timezone"),
    "HTTP_TIMEOUT_S": ("0", "greater than 0"),
    "SCHEDULE_BACKUP": ("nightly", "not a cron expression"),
    "HEALTH_WORKERS": ("processor,scheduler", "Input should be 'collector'"),
    "LAG_WINDOW": ("1", "greater than or equal to 2"),
    "PLUGIN_FAILURE_THRESHOLD": ("1.5", "less than or equal to 1"),
    "DASHBOARD_REFRESH_S": ("0", "greater than 0"),
    "PIPELINE_JOIN_THRESHOLD": ("high", "Input should be a valid number"),
    "PIPELINE_MIN_TOPIC_SIZE": ("3.5", "Input should be a valid integer"),
    "PIPELINE_RARE_TERMS": ("sometimes", "Input should be a valid boolean"),
}


def test_every_setting_has_a_documented_variable() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert field.description.startswith(name.upper() + ":"), name
    assert set(GOOD_VALUES) == {name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize("variable", sorted(GOOD_VALUES))
def test_each_variable_is_parsed(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, expected = GOOD_VALUES[variable]
    monkeypatch.setenv(variable, raw)
    value = getattr(load_settings(), variable.lower())
    value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    assert value == expected


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_a_bad_value_names_the_variable(variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, reason = BAD_VALUES[variable]
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid configuration: {variable}=")
    assert reason in message


@pytest.mark.parametrize("variable", ["PIPELINE_SETTINGS", "SCHEDULE_REPROCESS", "REPROCESS_HOURS"])
def test_a_retired_variable_says_what_replaced_it(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "join_threshold=0.5")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"invalid configuration: {variable} is no longer read: ")


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "DATABASE_URL=<hidden>" in str(caught.value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db/x")
    monkeypatch.setenv("API_TOKEN", "tok-123")
    assert "tok-123" not in repr(load_settings())


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.topic_partitions = 9  # type: ignore[misc]


def test_web_address_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSOR_WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("PROCESSOR_WEB_PORT", "7777")
    settings = load_settings()
    assert settings.web_address("processor") == ("0.0.0.0", 7777)
    assert settings.web_address("collector") == ("127.0.0.1", 6066)


@pytest.mark.parametrize(
    ("module", "variable", "value", "problem"),
    [
        (
            "services.collector",
            "COLLECTOR_WEB_PORT",
            "nope",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (
            "services.processor.app",
            "PIPELINE_WINDOW_HOURS",
            "six",
            "Input should be a valid number, unable to parse string as a number",
        ),
    ],
)
def test_a_service_with_a_bad_variable_stops_with_one_line(
    tmp_path: Path, module: str, variable: str, value: str, problem: str
) -> None:
    env = {"PATH": "/usr/bin:/bin", variable: value, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [f"trend-stream: invalid configuration: {variable}={value!r}: {problem}"]


def test_the_test_environment_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.workers import settings_env

    original = load_settings(rss_feeds=("http://a/x", "http://b/y"), mastodon_include_tags=False)
    for variable, value in settings_env(original).items():
        monkeypatch.setenv(variable, value)
    assert load_settings() == original


@pytest.mark.parametrize(
    "token", ["change-me", "changeme", "CHANGE_ME", "secret", "token", " test "]
)
def test_a_placeholder_api_token_is_refused(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv("API_TOKEN", token)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid configuration: API_TOKEN=<hidden>: ")
    assert "well-known placeholder" in message and "\n" not in message


def test_an_empty_or_own_api_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", "")
    assert load_settings().api_token.get_secret_value() == ""
    monkeypatch.setenv("API_TOKEN", "9f2c4e1a7b")
    assert load_settings().api_token.get_secret_value() == "9f2c4e1a7b"


def test_a_worker_with_a_placeholder_token_stops_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "API_TOKEN": "change-me", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import services.collector"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("trend-stream: invalid configuration: API_TOKEN=<hidden>: ")
    assert "well-known placeholder" in line and "change-me" not in line


class WeatherSettings(PluginSection):
    """The `weather` plugin of a package installed beside trend-stream (a test's own)."""

    plugin: ClassVar[str] = "weather"
    weather_city: str = Field("Paris", description="WEATHER_CITY: the city whose weather is read.")
    weather_limit: int = Field(5, ge=1, description="WEATHER_LIMIT: readings per run.")


class StraySettings(PluginSection):
    """A plugin section whose variable is not named after its plugin."""

    plugin: ClassVar[str] = "stray"
    namespace: str = Field("x", description="NAMESPACE: another section's variable.")


def _installed(monkeypatch: pytest.MonkeyPatch, *kinds: type[PluginSection]) -> None:
    """Entry points of the group trend_stream.settings naming these sections."""
    points = [
        EntryPoint(kind.plugin, f"{__name__}:{kind.__name__}", SECTION_ENTRY_POINT_GROUP)
        for kind in kinds
    ]
    monkeypatch.setattr(config, "entry_points", lambda group: points)


def test_the_sections_hold_every_variable_once() -> None:
    declared = [name for section in SECTIONS for name in section.model_fields]
    assert len(declared) == len(set(declared))
    assert set(declared) == set(Settings.model_fields)
    assert {section.group for section in SECTIONS} >= {
        *("servers", "web", "collector", "processor", "maintenance", "plugins")
    }
    plugins = {s.title for s in SECTIONS if issubclass(s, PluginSection)}
    assert plugins == {"hackernews", "reddit", "rss", "mastodon", "file"}


def test_a_section_holds_the_values_of_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDDIT_LIMIT", "25")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092")
    settings = load_settings()
    reddit = settings.section(RedditSettings)
    assert type(reddit) is RedditSettings and reddit.reddit_limit == 25 == settings.reddit_limit
    assert settings.section(ServerSettings).bootstrap_list == ["k1:9092"]


def test_a_plugin_declares_its_own_section(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, WeatherSettings)
    monkeypatch.setenv("WEATHER_CITY", "Lyon")
    settings = load_settings(weather_limit=9)
    weather = settings.section(WeatherSettings)
    assert (weather.weather_city, weather.weather_limit) == ("Lyon", 9)
    assert settings.plugin_sections == (weather,)
    assert "weather_city" not in Settings.model_fields  # the built-in settings are unchanged


def test_a_bad_value_of_a_plugin_section_names_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _installed(monkeypatch, WeatherSettings)
    monkeypatch.setenv("WEATHER_LIMIT", "0")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert str(caught.value) == (
        "invalid configuration: WEATHER_LIMIT='0': Input should be greater than or equal to 1"
    )


def test_a_plugin_section_not_installed_is_read_on_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _installed(monkeypatch)
    settings = load_settings()
    assert settings.plugin_sections == ()
    monkeypatch.setenv("WEATHER_CITY", "Nantes")
    assert settings.section(WeatherSettings).weather_city == "Nantes"
    monkeypatch.setenv("WEATHER_CITY", "Brest")  # read once, like every setting
    assert settings.section(WeatherSettings).weather_city == "Nantes"


def test_a_plugin_section_takes_no_variable_of_another(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, StraySettings)
    with pytest.raises(ConfigurationError, match="variables of other settings: NAMESPACE"):
        load_settings()


def test_an_entry_point_that_cannot_be_loaded_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "no_such_module:Nothing", SECTION_ENTRY_POINT_GROUP)
    monkeypatch.setattr(config, "entry_points", lambda group: [broken])
    logged = MagicMock()
    monkeypatch.setattr(config, "log", logged)
    assert load_settings().plugin_sections == ()
    logged.exception.assert_called_once_with(
        "plugin settings could not be loaded entry_point=%s", "broken"
    )


def test_the_pipeline_knobs_are_a_section_built_from_pipeline_config() -> None:
    knobs = [knob.name for knob in fields(PipelineConfig) if knob.name not in EMBEDDING_FIELDS]
    assert list(PipelineSettings.model_fields) == [f"pipeline_{name}" for name in knobs]
    info = PipelineSettings.model_fields["pipeline_join_threshold"]
    assert info.default == PipelineConfig().join_threshold
    assert info.description is not None
    assert info.description.startswith("PIPELINE_JOIN_THRESHOLD: Combined similarity")
    settings = load_settings(pipeline_join_threshold=0.5, embedding_model_path="/models/m")
    default_onnx = str(settings.state_dir / "onnx")
    assert pipeline_config(settings) == PipelineConfig(
        join_threshold=0.5, model_path="/models/m", onnx_path=default_onnx
    )
    assert pipeline_config(load_settings()) == PipelineConfig(onnx_path=default_onnx)


def test_the_embedding_variables_are_carried_into_the_pipeline_config() -> None:
    settings = load_settings(embedding_backend="onnx", embedding_onnx_path=Path("/models/onnx"))
    config = pipeline_config(settings)
    assert (config.embedding_backend, config.onnx_path) == ("onnx", "/models/onnx")
    assert set(EMBEDDING_FIELDS) < {knob.name for knob in fields(PipelineConfig)}
    assert not {f"pipeline_{name}" for name in EMBEDDING_FIELDS} & set(Settings.model_fields)
