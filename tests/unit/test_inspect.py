"""The pure parts of streams.operations.inspect: metrics parsing, plugins, schedules, requests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams import catalog
from streams.config import load_settings
from streams.messages.records import RequestState, RequestStatus
from streams.operations import inspect

METRICS = """\
# HELP trend_stream_messages_consumed_total Messages received
# TYPE trend_stream_messages_consumed_total counter
trend_stream_messages_consumed_total{topic="a"} 3.0
trend_stream_messages_consumed_total{topic="b"} 4.0
# HELP trend_stream_requests_total Request statuses
# TYPE trend_stream_requests_total counter
trend_stream_requests_total{kind="collect",state="SUCCESS"} 2.0
trend_stream_requests_total{kind="other",state="SUCCESS"} 1.0
trend_stream_requests_total{kind="collect",state="FAILURE"} 1.0
# HELP trend_stream_processing_seconds Seconds
# TYPE trend_stream_processing_seconds histogram
trend_stream_processing_seconds_bucket{topic="a",le="+Inf"} 4.0
trend_stream_processing_seconds_count{topic="a"} 4.0
trend_stream_processing_seconds_sum{topic="a"} 2.0
# HELP process_start_time_seconds Start time
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1000.0
# HELP process_resident_memory_bytes Memory
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2048.0
"""


def test_metrics_are_summed_over_labels() -> None:
    figures, by_state = inspect.parse_metrics(METRICS, now=1060.0)
    assert figures["messages_consumed"] == 7
    assert figures["processing_count"] == 4
    assert figures["processing_mean_s"] == 0.5
    assert figures["memory_bytes"] == 2048
    assert figures["uptime_s"] == 60
    assert figures["failures"] == 0
    assert by_state == {"SUCCESS": 3, "FAILURE": 1}


def test_no_metrics_give_zeros() -> None:
    figures, by_state = inspect.parse_metrics("", now=5.0)
    assert figures["processing_mean_s"] == 0 and figures["uptime_s"] == 0
    assert by_state == {}


def test_registered_follows_the_plugin_settings() -> None:
    found = inspect.registered(load_settings(plugins_disabled="reddit"))
    enabled = {p.name: p.enabled for p in found.plugins}
    assert enabled["reddit"] is False and enabled["hackernews"] is True
    assert "sweep" in found.process_jobs and "backup" in found.maintenance_jobs
    assert found.as_dict()["control_commands"] == ["revoke"]


def test_a_schedule_knows_its_next_run_and_an_empty_cron_is_off() -> None:
    settings = load_settings(schedule_all="", schedule_timezone="Europe/Paris")
    now = datetime(2026, 1, 1, 10, 7, tzinfo=UTC)
    by_job = {
        s.job: s
        for s in (inspect._schedule(settings, entry, now, None) for entry in catalog.schedules())
    }
    assert by_job["collect_all"].next_run is None
    assert by_job["collect_high_frequency"].next_run == "2026-01-01T11:15:00+01:00"
    assert by_job["health"].last_slot is None


@pytest.mark.parametrize("state", [RequestState.STARTED, RequestState.SUCCESS])
def test_request_info_measures_the_runtime(state: RequestState) -> None:
    timings = {"received": 100.0, "started": 101.0}
    if state is RequestState.SUCCESS:
        timings["finished"] = 104.5
    status = RequestStatus(request_id="r", state=state, plugin="rss", timings=timings)
    info = inspect.request_info(status, now=111.0)
    assert info.runtime_s == (3.5 if state is RequestState.SUCCESS else 10.0)
    assert info.as_dict()["state"] == state.value
