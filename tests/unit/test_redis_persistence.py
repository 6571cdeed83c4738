"""Redis runs persisted (append-only file) in docker-compose.kafka.yml, as in the local stack."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _options(command: list[str]) -> dict[str, str]:
    """`--name value` pairs of a redis-server command line."""
    return {
        name.removeprefix("--"): value for name, value in pairwise(command) if name.startswith("--")
    }


def test_compose_redis_keeps_an_append_only_file_on_its_volume() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.kafka.yml").read_text(encoding="utf-8"))
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    options = _options(command)
    assert options["appendonly"] == "yes"
    assert options.get("appendfsync", "everysec") in {"everysec", "always"}
    assert any(volume.endswith(":/data") for volume in redis["volumes"])  # where the file lives
