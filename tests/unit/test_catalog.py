"""The catalog: what it names exists, and the services, inspect and requests are built from it."""

from __future__ import annotations

import pytest
from croniter import croniter

from streams import catalog
from streams.config import (
    CollectorSettings,
    MaintenanceSettings,
    ProcessorSettings,
    Settings,
    load_settings,
)
from streams.messages.records import MaintenanceRequest, ProcessRequest
from streams.operations import inspect


def test_every_setting_the_catalog_names_is_a_setting() -> None:
    variables = {name.upper() for name in Settings.model_fields}
    named = {setting for entry in catalog.schedules() for setting in entry.cron.settings()}
    assert named <= variables, named - variables


def test_each_schedule_is_a_setting_of_its_service_made_from_the_catalog() -> None:
    sections = {
        "collector": CollectorSettings,
        "processor": ProcessorSettings,
        "maintenance": MaintenanceSettings,
    }
    for entry in catalog.schedules():
        field = sections[entry.service].model_fields[entry.cron.setting.lower()]
        assert field.default == entry.cron.default and croniter.is_valid(entry.cron.default)
        assert field.description == entry.description
    sweep = {entry.name: entry for entry in catalog.schedules()}["sweep"]
    assert sweep.description.startswith("SCHEDULE_SWEEP: cron of `process sweep` (send stored")
    assert sweep.description.endswith("with `limit` from SWEEP_LIMIT; empty: off.")


def test_names_are_unique_and_each_job_declares_its_options() -> None:
    names = [job.name for job in catalog.JOBS]
    assert len(names) == len(set(names))
    assert len(catalog.group_names()) == len(set(catalog.group_names()))
    assert all(issubclass(job.options, catalog.JobOptions) for job in catalog.JOBS)


def test_requests_accept_the_jobs_of_their_service() -> None:
    assert ProcessRequest.jobs == catalog.job_names("processor")
    assert MaintenanceRequest.jobs == catalog.job_names("maintenance")
    assert "sweep" in ProcessRequest.jobs and "backup" in MaintenanceRequest.jobs


def test_a_scheduled_run_takes_its_cron_and_options_from_the_settings() -> None:
    settings = load_settings(schedule_sweep="*/7 * * * *", sweep_limit=12, schedule_backup="")
    by_name = {entry.name: entry for entry in catalog.schedules()}
    sweep = by_name["sweep"]
    assert (sweep.service, sweep.runs) == ("processor", "process sweep")
    assert sweep.cron.cron(settings) == "*/7 * * * *"
    assert sweep.cron.run_options(settings) == {"limit": 12}
    assert by_name["backup"].cron.cron(settings) == ""
    assert by_name["collect_high_frequency"].runs == "collect high_frequency"
    assert {entry.service for entry in catalog.schedules("maintenance")} == {"maintenance"}


def test_the_collector_loads_each_builtin_plugin_of_the_catalog() -> None:
    from services.collector.plugins.registry import builtin_plugins

    assert [p.name for p in builtin_plugins()] == [p.name for p in catalog.BUILTIN_PLUGINS]


def test_a_builtin_whose_class_names_another_plugin_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.collector.plugins.registry import builtin_plugins

    wrong = catalog.BuiltinPlugin("lobsters", "services.collector.plugins.rss:RssPlugin")
    monkeypatch.setattr(catalog, "BUILTIN_PLUGINS", (wrong,))
    with pytest.raises(TypeError, match="is plugin 'rss', not 'lobsters'"):
        builtin_plugins()


def test_a_group_takes_its_members_by_frequency() -> None:
    from services.collector.plugins import Plugin, PluginRegistry

    class Often(Plugin):
        name = "often"
        frequency = "high"

    class Sometimes(Plugin):
        name = "sometimes"

    class Alone(Plugin):
        name = "alone"
        groupable = False

    registry = PluginRegistry([Often(), Sometimes(), Alone()])
    assert registry.members("high_frequency") == ["often"]
    assert registry.members("all") == ["often", "sometimes"]
    assert registry.members("alone") == [] and not registry.is_group("alone")


def test_inspect_reports_the_catalog() -> None:
    found = inspect.registered(load_settings())
    assert found.groups == catalog.group_names()
    assert set(found.process_jobs) == catalog.job_names("processor")
    assert set(found.maintenance_jobs) == catalog.job_names("maintenance")
    builtin = {p.name for p in found.plugins if p.origin == "builtin"}
    assert builtin == {p.name for p in catalog.BUILTIN_PLUGINS}
