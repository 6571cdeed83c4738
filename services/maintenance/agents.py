"""The maintenance worker's agents: alerts are logged; maintenance jobs are run on request."""

from __future__ import annotations

import logging
from typing import Any

from services.maintenance.alerts import describe
from services.maintenance.app import app
from services.maintenance.handlers import Jobs, handlers
from services.maintenance.lag import LagMonitor
from services.maintenance.topics import alerts_topic, job_results_topic, jobs_topic
from streams.messages.delivery import Delivery
from streams.messages.records import Alert, MaintenanceRequest
from streams.messages.topics import ALERTS, MAINTENANCE_REQUESTS, MAINTENANCE_RESULTS
from streams.reliability import retry_consumer
from streams.reliability.decoding import consume_records
from streams.reliability.limits import job_limits
from streams.reliability.retry import Guard, RetryPolicy, Route
from streams.requests import client
from streams.requests.jobs import JobRunner, close_on_shutdown, status_publisher
from streams.servers.resources import WorkerResources

__all__ = ["guard", "handle_jobs", "jobs", "log_alerts", "monitor", "publish_alert", "resources"]

log = logging.getLogger(__name__)
resources = WorkerResources(app.settings)
monitor = LagMonitor(app.settings)


async def publish_alert(alert: Alert) -> None:
    """Put an alert on the alerts topic, keyed by its source and subject."""
    await alerts_topic.send(key=alert.key, value=alert.dumps())


async def _log_alert(alert: Alert) -> None:
    log.warning("alert %s", describe(alert))


@app.agent(alerts_topic)
async def log_alerts(stream: Any) -> None:
    """Log each alert as one warning line; a message that is not an Alert is dead-lettered."""
    await consume_records(stream, Alert, guard, _log_alert)


_runner = JobRunner(
    MaintenanceRequest,
    handlers(Jobs(resources, monitor, publish_alert)),
    status_publisher(job_results_topic, MAINTENANCE_RESULTS, resources.states),
    resources.states,
    policy=RetryPolicy.for_kind(app.settings, app.settings.maintenance_max_retries),
    limits=job_limits(app.settings),
    max_bytes=app.settings.max_request_bytes,
    revoke_check_s=app.settings.revoke_check_s,
    settings=app.settings,
)
guard = Guard(
    app.settings,
    [
        Route(MAINTENANCE_REQUESTS, _runner.policy),
        Route(ALERTS, RetryPolicy(max_retries=0)),
    ],
)


handle_jobs = _runner.handle_deliveries


@app.agent(jobs_topic)
async def jobs(stream: Any) -> None:
    """Maintenance jobs on request (maintenance.requests), answered on maintenance.results."""
    async for event in stream.events():
        await guard.handle([Delivery.of_message(event.message)], handle_jobs)


retry_consumer.install(app, guard, {MAINTENANCE_REQUESTS.full_name(app.settings): handle_jobs})

close_on_shutdown(app, monitor.close, resources.close, guard.close, client.close)
