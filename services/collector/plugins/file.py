"""The `file` plugin: replays items from a JSONL file (backfills, offline demos)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from services.collector.plugins.base import Plugin, PluginContext, PluginInputError
from services.collector.plugins.options import limit_option
from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.records import RawItem

__all__ = ["FilePlugin"]


class FilePlugin(Plugin):
    """Options: `path` (inside FILE_PLUGIN_DIR), `limit` (default: every line)."""

    name = "file"
    groupable = False
    uses_http = False
    default_options: ClassVar[Mapping[str, Any]] = {"limit": None}
    option_names: ClassVar[frozenset[str]] = frozenset({"path", "limit"})

    def read_options(
        self, options: Mapping[str, Any], settings: Settings
    ) -> tuple[Path, int | None]:
        """The path (inside FILE_PLUGIN_DIR) and the limit; whether the file exists is the
        run's to find out (the worker that runs it reads its own disk)."""
        path = _inside(settings.file_plugin_dir, options.get("path"))
        return path, limit_option("file", options.get("limit"))

    async def collect(
        self, ctx: PluginContext, options: Mapping[str, Any]
    ) -> AsyncIterator[RawItem]:
        path, limit = self.read_options(options, ctx.settings)
        if not path.is_file():
            raise PluginInputError(f"file: no file at {path}")
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if limit is not None and number > limit:
                    return
                if line.strip():
                    yield _item(path, number, line, ctx.request_id)


def _inside(root: Path, given: object) -> Path:
    if not isinstance(given, str) or not given:
        raise PluginInputError("file: option 'path' (a JSONL file) is required")
    base = root.resolve()
    path = (base / given).resolve()
    if not path.is_relative_to(base):
        raise PluginInputError(f"file: {given!r} is outside FILE_PLUGIN_DIR ({base})")
    return path


def _item(path: Path, number: int, line: str, request_id: str) -> RawItem:
    try:
        item = RawItem.parse(line)
    except RecordValidationError as exc:
        raise PluginInputError(f"file: {path.name} line {number}: {exc}") from None
    item.request_id = request_id
    return item
