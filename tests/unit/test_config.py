"""Settings: every variable parsed from the environment, bad values named in one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.config import Settings, load_settings
from streams.exceptions import ConfigurationError

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
    "TOPIC_PARTITIONS": ("12", 12),
    "TOPIC_REPLICATION_FACTOR": ("3", 3),
    "NAMESPACE": ("staging.", "staging."),
    "STATE_DIR": ("/var/lib/ts", Path("/var/lib/ts")),
    "FILE_PLUGIN_DIR": ("/srv/replays", Path("/srv/replays")),
    "LOG_LEVEL": ("debug", "DEBUG"),
    "API_TOKEN": ("s3cret", "s3cret"),
}

BAD_VALUES = {
    "KAFKA_BOOTSTRAP_SERVERS": ("localhost", "expected host:port"),
    "DATABASE_URL": ("mysql://x", "expected a postgresql:// URL"),
    "REDIS_URL": ("localhost:6379", "expected a redis:// URL"),
    "QDRANT_URL": ("qdrant:6333", "expected an http(s):// URL"),
    "COLLECTOR_WEB_PORT": ("http", "valid integer"),
    "PROCESSOR_WEB_PORT": ("70000", "less than or equal to 65535"),
    "TOPIC_PARTITIONS": ("0", "greater than or equal to 1"),
    "NAMESPACE": ("a b", "only letters"),
    "LOG_LEVEL": ("LOUD", "DEBUG"),
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


def test_a_service_with_a_bad_variable_stops_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "COLLECTOR_WEB_PORT": "nope", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "import services.collector"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "trend-stream: invalid configuration: COLLECTOR_WEB_PORT='nope': "
        "Input should be a valid integer, unable to parse string as an integer"
    ]
