"""The collector learns which plugins are disabled from plugin.health, the maintenance topic."""

from __future__ import annotations

from services.collector.plugin_health import PluginHealthView
from services.collector.runs import PluginRunLog
from streams.config import Settings
from streams.messages.records import PluginHealthReport
from streams.messages.topics import PLUGIN_HEALTH, ensure_topics
from tests.support.kafka import produce


async def _publish(settings: Settings, plugin: str, *, disabled: bool) -> None:
    verdict = PluginHealthReport(
        plugin=plugin, window_hours=24, flagged=disabled, disabled=disabled
    )
    await produce(settings, PLUGIN_HEALTH, verdict.dumps(), plugin.encode())


async def test_the_latest_verdict_of_each_plugin_decides(test_settings: Settings) -> None:
    await ensure_topics(test_settings, (PLUGIN_HEALTH,))
    view = PluginHealthView(test_settings)
    assert await view.disabled() == set()
    await _publish(test_settings, "reddit", disabled=True)
    await _publish(test_settings, "hackernews", disabled=True)
    assert await view.disabled() == {"reddit", "hackernews"}
    await _publish(test_settings, "reddit", disabled=False)
    await produce(test_settings, PLUGIN_HEALTH, None, b"hackernews")  # verdict withdrawn
    latest = await view.latest()
    assert set(latest) == {"reddit"} and not latest["reddit"].disabled
    assert await PluginRunLog(pool=None, health=view, settings=test_settings).disabled() == set()


async def test_without_kafka_no_plugin_is_skipped(test_settings: Settings) -> None:
    away = test_settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    assert await PluginHealthView(away).disabled() == set()
