"""docker-compose.kafka.yml: services, commands, ports, healthchecks and env match Settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.kafka.yml"
WORKERS = ("collector", "processor", "maintenance")
EXPECTED_SERVICES = {"kafka", "kafka-ui", "postgres", "redis", "qdrant", *WORKERS}
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}
_DEFAULTED = re.compile(r"\$\{(\w+):?-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed compose file (anchors and `<<` merges resolved by safe_load)."""
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    """The `services:` mapping."""
    found = compose.get("services")
    assert isinstance(found, dict), "the compose file has no services mapping"
    return found


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a name -> value mapping (both compose syntaxes)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def _container_ports(service: dict[str, Any]) -> set[int]:
    """The container ports a service publishes (short and long `ports:` syntax)."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/", 1)[0]))
    return ports


def _healthcheck_command(service: dict[str, Any]) -> str:
    """The healthcheck test as one command line."""
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck"
    if isinstance(test, list):
        return " ".join(str(part) for part in test[1:])
    return str(test)


def _default_port(name: str) -> int:
    default = Settings.model_fields[f"{name}_web_port"].default
    assert isinstance(default, int)
    return default


def test_all_services_are_defined(services: dict[str, Any]) -> None:
    missing = EXPECTED_SERVICES - services.keys()
    assert not missing, f"missing services: {sorted(missing)}"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_runs_its_faust_app(services: dict[str, Any], name: str) -> None:
    command = services[name]["command"]
    line = " ".join(command) if isinstance(command, list) else command
    assert line.split()[:4] == ["faust", "-A", f"services.{name}", "worker"]
    assert "build" in services[name], "workers are built from the project's Dockerfile"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_web_port_is_the_settings_default(services: dict[str, Any], name: str) -> None:
    env = _environment(services[name])
    assert int(env[f"{name.upper()}_WEB_PORT"]) == _default_port(name)
    assert env[f"{name.upper()}_WEB_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_publishes_its_web_port(services: dict[str, Any], name: str) -> None:
    assert _default_port(name) in _container_ports(services[name])


@pytest.mark.parametrize("name", WORKERS)
def test_worker_healthcheck_calls_health_on_its_port(services: dict[str, Any], name: str) -> None:
    command = _healthcheck_command(services[name])
    assert "curl" in command
    assert f"localhost:{_default_port(name)}/health" in command


@pytest.mark.parametrize("name", WORKERS)
def test_worker_environment_names_are_settings_fields(services: dict[str, Any], name: str) -> None:
    env = _environment(services[name])
    assert env, "the worker sets no environment"
    unknown = set(env) - SETTINGS_VARIABLES
    assert not unknown, f"not a field of Settings: {sorted(unknown)}"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_environment_is_valid_settings(services: dict[str, Any], name: str) -> None:
    values = {
        key.lower(): _DEFAULTED.sub(lambda match: match.group(2), value)
        for key, value in _environment(services[name]).items()
    }
    settings = Settings(**values)  # type: ignore[arg-type]
    assert settings.web_address(name) == ("0.0.0.0", _default_port(name))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", WORKERS)
def test_worker_bootstrap_points_at_kafka(services: dict[str, Any], name: str) -> None:
    servers = _environment(services[name])["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    advertised = _environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for server in servers:
        assert server.split(":")[0] == "kafka"
        assert f"://{server}" in advertised, f"{server} is not a listener the broker advertises"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_waits_for_healthy_infrastructure(services: dict[str, Any], name: str) -> None:
    depends = services[name].get("depends_on") or {}
    for dependency in ("kafka", "postgres", "redis"):
        assert depends.get(dependency, {}).get("condition") == "service_healthy", dependency
        assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


@pytest.mark.parametrize("name", WORKERS)
def test_worker_starts_after_migrations(services: dict[str, Any], name: str) -> None:
    depends = services[name].get("depends_on") or {}
    assert depends.get("migrate", {}).get("condition") == "service_completed_successfully"
    assert services["migrate"]["command"].split() == [
        "python",
        "-m",
        "streams.servers.db",
        "migrate",
    ]
    assert "DATABASE_URL" in _environment(services["migrate"])


def test_kafka_ui_bootstrap_points_at_kafka(services: dict[str, Any]) -> None:
    env = _environment(services["kafka-ui"])
    assert env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"].split(":")[0] == "kafka"
    assert (
        env["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"]
        in _environment(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    )
    assert services["kafka-ui"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_kafka_runs_kraft_single_node(services: dict[str, Any]) -> None:
    env = _environment(services["kafka"])
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "kafka-broker-api-versions.sh" in _healthcheck_command(services["kafka"])


@pytest.mark.parametrize("name", WORKERS)
def test_api_token_has_no_default_a_deployment_could_forget(
    services: dict[str, Any], name: str
) -> None:
    value = _environment(services[name])["API_TOKEN"]
    defaulted = _DEFAULTED.fullmatch(value)
    assert defaulted is not None and defaulted.group(1) == "API_TOKEN", value
    assert defaulted.group(2) == "", f"API_TOKEN defaults to {defaulted.group(2)!r}"
