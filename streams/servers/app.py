"""The Faust application factory shared by the three services."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faust

from streams.config import ServiceName, Settings, get_settings
from streams.exceptions import ConfigurationError
from streams.messages.metrics import install_metrics
from streams.messages.topics import ensure_topics
from streams.requests.state import warm_request_cache
from streams.servers.logs import logging_config

__all__ = ["TrendStreamApp", "create_app"]

log = logging.getLogger(__name__)


class TrendStreamApp(faust.App):
    """A Faust app that creates or verifies the catalog topics before it starts consuming."""

    def __init__(self, *args: Any, settings: Settings, service: ServiceName, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.service_name: ServiceName = service
        install_metrics(self, service)

    async def on_first_start(self) -> None:
        """Create the catalog topics (idempotent), then start as Faust does."""
        Path(self.conf.datadir).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
        report = await ensure_topics(self.settings)
        log.info("topics ready service=%s %s", self.service_name, report.summary())
        await warm_request_cache(self.settings)  # Redis caches what Kafka holds: catch it up
        await super().on_first_start()


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        raise SystemExit(f"trend-stream: {exc}") from None


def create_app(service: ServiceName, settings: Settings | None = None) -> TrendStreamApp:
    """Build the Faust app of one service with the shared configuration."""
    settings = settings or _settings_or_exit()
    host, port = settings.web_address(service)
    return TrendStreamApp(
        f"{settings.namespace}trend-stream-{service}",
        settings=settings,
        service=service,
        broker=[f"kafka://{server}" for server in settings.bootstrap_list],
        processing_guarantee="at_least_once",
        autodiscover=True,
        origin=f"services.{service}",
        datadir=str(settings.state_dir / "workers" / service),
        store="memory://",
        producer_max_request_size=settings.dead_letter_max_bytes,  # the broker checks each topic
        broker_session_timeout=settings.broker_session_timeout_s,
        broker_heartbeat_interval=settings.broker_heartbeat_interval_s,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        web_bind=host,
        web_host=host,
        web_port=port,
        web_enabled=True,
        web_router_enabled=False,  # no tables: /router/* only exposed topology, or a 500
        web_tables_enabled=False,
        logging_config=logging_config(service, settings.log_level),
        loghandlers=[],
    )
