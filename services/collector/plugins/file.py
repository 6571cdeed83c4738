"""The `file` plugin: replays items from a JSONL file (backfills, offline demos)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from services.collector.plugins.base import Plugin, PluginContext, PluginError
from services.collector.plugins.options import limit_option
from streams.exceptions import RecordValidationError
from streams.records import RawItem

__all__ = ["FilePlugin"]


class FilePlugin(Plugin):
    """Options: `path` (inside FILE_PLUGIN_DIR), `limit` (default: every line)."""

    name = "file"
    groupable = False
    uses_http = False
    default_options: ClassVar[Mapping[str, Any]] = {"limit": None}

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        path = _resolve(ctx.settings.file_plugin_dir, options.get("path"))
        limit = limit_option("file", options.get("limit"))
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if limit is not None and number > limit:
                    return
                if line.strip():
                    yield _item(path, number, line, ctx.request_id)


def _resolve(root: Path, given: object) -> Path:
    if not isinstance(given, str) or not given:
        raise PluginError("file: option 'path' (a JSONL file) is required")
    base = root.resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base):
        raise PluginError(f"file: {given!r} is outside FILE_PLUGIN_DIR ({base})")
    if not path.is_file():
        raise PluginError(f"file: no file at {path}")
    return path


def _item(path: Path, number: int, line: str, request_id: str) -> RawItem:
    try:
        item = RawItem.parse(line)
    except RecordValidationError as exc:
        raise PluginError(f"file: {path.name} line {number}: {exc}") from None
    item.request_id = request_id
    return item
