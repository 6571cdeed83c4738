"""Checks of the options a request gives a plugin, with errors that name plugin and option."""

from __future__ import annotations

from collections.abc import Callable

from services.collector.plugins.base import PluginInputError

__all__ = ["flag_option", "limit_option", "names_option"]


def limit_option(plugin: str, given: object, default: int | None = None) -> int | None:
    """A whole number >= 0 (`limit`), or the default when not given."""
    if given is None:
        return default
    if isinstance(given, bool) or not isinstance(given, int) or given < 0:
        raise PluginInputError(
            f"{plugin}: option 'limit' must be a whole number >= 0, got {given!r}"
        )
    return given


def flag_option(plugin: str, option: str, given: object, default: bool) -> bool:
    """true or false, or the default when not given."""
    if given is None:
        return default
    if not isinstance(given, bool):
        raise PluginInputError(f"{plugin}: option '{option}' must be true or false, got {given!r}")
    return given


def names_option(
    plugin: str,
    option: str,
    given: object,
    default: tuple[str, ...],
    *,
    valid: Callable[[str], bool],
    expected: str,
) -> tuple[str, ...]:
    """A list (or comma-separated text) of names that pass `valid`; the default when empty."""
    names = (
        tuple(p.strip() for p in given.split(",") if p.strip()) if isinstance(given, str) else given
    )
    names = names or default
    if not isinstance(names, list | tuple) or not all(
        isinstance(n, str) and valid(n) for n in names
    ):
        raise PluginInputError(f"{plugin}: option '{option}' must be {expected}, got {given!r}")
    return tuple(names)
