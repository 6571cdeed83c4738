"""The configuration reference is generated from the settings object and kept up to date."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from streams import config
from streams.config import SECTIONS, PluginSection, Settings
from streams.operations import configref


def test_the_reference_is_up_to_date() -> None:
    written = configref.PATH.read_text() if configref.PATH.exists() else ""
    assert written == configref.render(), (
        f"{configref.PATH.name} is out of date: run `{configref.COMMAND}`"
    )


def test_every_variable_is_listed_once_with_its_group() -> None:
    rows = [line for line in configref.render().splitlines() if line.startswith("| `")]
    variables = [row.split("|")[1].strip().strip("`") for row in rows]
    assert sorted(variables) == sorted(name.upper() for name in Settings.model_fields)
    assert all(entry.group != "other" for entry in configref.entries())


def test_secrets_show_no_default() -> None:
    secrets = {e.variable: e for e in configref.entries() if e.type == "secret"}
    assert {"DATABASE_URL", "API_TOKEN"} <= set(secrets)
    assert all(entry.default == "(secret)" for entry in secrets.values())
    assert "trend:trend@" not in configref.render()


def test_groups_come_from_field_names() -> None:
    assert configref.group_of("hackernews_limit") == "plugins"
    assert configref.group_of("maintenance_web_port") == "web"
    assert configref.group_of("lag_window") == "maintenance"
    assert configref.group_of("a_new_field") == "other"


def test_check_names_the_command_when_out_of_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "configuration.md"
    assert configref.main(["--check", "--path", str(path)]) == 1
    assert configref.COMMAND in capsys.readouterr().err
    assert configref.main(["--path", str(path)]) == 0
    assert configref.main(["--check", "--path", str(path)]) == 0


def test_the_reference_follows_the_sections() -> None:
    lines = configref.render().splitlines()
    headings = [line for line in lines if line.startswith("#")]
    groups = list(dict.fromkeys(section.group for section in SECTIONS))
    assert [h.removeprefix("## ") for h in headings if h.startswith("## ")][:-1] == groups
    plugins = lines.index("## plugins")
    for section in SECTIONS:
        start = lines.index(f"### {section.title}") if section.title != section.group else None
        start = start if start is not None else lines.index(f"## {section.group}")
        rows = [line for line in lines[start:] if line.startswith(("| `", "#"))][1:]
        own = [row.split("|")[1].strip().strip("`") for row in rows[: len(section.model_fields)]]
        assert own == [name.upper() for name in section.model_fields], section.title
        if issubclass(section, PluginSection):
            assert start > plugins


def test_installed_plugin_sections_can_be_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    point = EntryPoint("weather", "tests.unit.test_config:WeatherSettings", "trend_stream.settings")
    monkeypatch.setattr(config, "entry_points", lambda group: [point])
    path = tmp_path / "configuration.md"
    assert configref.main(["--plugins", "--path", str(path)]) == 0
    text = path.read_text()
    assert text.index("## plugins") < text.index("### weather") < text.index("`WEATHER_CITY`")
    assert "`WEATHER_CITY`" not in configref.render()
