"""The `file` plugin: replays JSONL inside FILE_PLUGIN_DIR, with clear errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from services.collector.plugins import PluginContext, PluginError
from services.collector.plugins.file import FilePlugin
from streams.config import load_settings
from streams.messages.records import RawItem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


async def _collect(root: Path, **options: Any) -> list[RawItem]:
    ctx = PluginContext("req-1", load_settings(file_plugin_dir=root))
    plugin = FilePlugin()
    return [item async for item in plugin.collect(ctx, plugin.options(options))]


async def test_replays_every_line_with_the_request_id() -> None:
    items = await _collect(FIXTURES, path="items.jsonl")
    assert len(items) == 5
    assert {item.source for item in items} == {"hackernews", "reddit", "rss", "mastodon"}
    assert all(item.request_id == "req-1" for item in items)


async def test_limit_stops_early() -> None:
    assert len(await _collect(FIXTURES, path="items.jsonl", limit=2)) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "option 'path' (a JSONL file) is required"),
        ({"path": "../../etc/passwd"}, "is outside FILE_PLUGIN_DIR"),
        ({"path": "missing.jsonl"}, "no file at"),
        ({"path": "items.jsonl", "limit": -1}, "option 'limit' must be a whole number"),
        ({"path": "items.jsonl", "limit": "3"}, "option 'limit' must be a whole number"),
    ],
)
async def test_bad_options_fail_the_run(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginError, match=re.escape(message)):
        await _collect(FIXTURES, **options)


async def test_a_malformed_line_names_its_number(tmp_path: Path) -> None:
    good = '{"source": "rss", "source_id": "1", "title": "ok"}'
    (tmp_path / "bad.jsonl").write_text(f"{good}\n\n{{oops\n")
    with pytest.raises(PluginError, match=r"bad.jsonl line 3: invalid RawItem: payload is not"):
        await _collect(tmp_path, path="bad.jsonl")
