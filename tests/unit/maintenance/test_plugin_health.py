"""Plugin verdicts: flagged above the failure threshold, only with enough runs to tell."""

from __future__ import annotations

from services.maintenance.plugin_health import PluginHealth, judge
from streams.config import load_settings


def stats(runs: int, successes: int) -> PluginHealth:
    return PluginHealth("reddit", runs, successes, 120.0, None)


def test_a_plugin_failing_above_the_threshold_is_flagged() -> None:
    settings = load_settings(plugin_failure_threshold=0.5, plugin_health_min_runs=3)
    flagged = judge(stats(4, 1), settings)
    assert flagged.flagged and not flagged.disabled
    assert flagged.reason is not None and "75% of 4 runs failed" in flagged.reason


def test_at_the_threshold_or_with_few_runs_nothing_is_flagged() -> None:
    settings = load_settings(plugin_failure_threshold=0.5, plugin_health_min_runs=3)
    assert not judge(stats(4, 2), settings).flagged
    assert not judge(stats(2, 0), settings).flagged


def test_auto_disable_disables_a_flagged_plugin() -> None:
    settings = load_settings(plugin_auto_disable=True)
    assert judge(stats(10, 0), settings).disabled
    assert stats(10, 4).success_rate == 0.4
