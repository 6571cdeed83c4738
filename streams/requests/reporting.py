"""Publishing the states of one request (RequestStatus), with its timings, for every service."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.messages.metrics import record_request
from streams.messages.records import RequestState, RequestStatus

__all__ = ["RetryNote", "StatusReporter", "StatusSink", "worker_name"]

log = logging.getLogger(__name__)
StatusSink = Callable[[RequestStatus], Awaitable[None]]
"""Where statuses go: a results topic and the state store."""


@dataclass(frozen=True)
class RetryNote:
    """The retry facts a status carries: failed attempts, the next due time, a traceback."""

    retries: int = 0
    due: float | None = None
    traceback: str | None = None

    def fields(self) -> dict[str, Any]:
        """RequestStatus fields."""
        eta = datetime.fromtimestamp(self.due, UTC) if self.due else None
        return {"retries": self.retries, "eta": eta, "traceback": self.traceback}


def worker_name() -> str:
    """host:pid of this worker, as shown in request statuses."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StatusReporter:
    """Publishes the statuses of one request; remembers when it was received, started, finished."""

    def __init__(
        self,
        sink: StatusSink,
        request_id: str,
        name: str,
        *,
        parent_id: str | None = None,
        timings: dict[str, float] | None = None,
        worker: str | None = None,
    ) -> None:
        self.sink = sink
        self.request_id = request_id
        self.name = name
        self.parent_id = parent_id
        self.timings = timings if timings is not None else {"received": time.time()}
        self.worker = worker or worker_name()

    async def __call__(
        self,
        state: RequestState,
        *,
        result: dict[str, Any] | None = None,
        error: Exception | str | None = None,
        retry: RetryNote | None = None,
    ) -> RequestStatus:
        """Publish one state; STARTED and final states stamp their time.

        `retry`: how many attempts failed so far, when the next is due, and the traceback.
        """
        if state is RequestState.STARTED:
            self.timings.setdefault("started", time.time())
        if state.is_final:
            self.timings["finished"] = time.time()
        status = RequestStatus(
            request_id=self.request_id,
            state=state,
            plugin=self.name,
            result=result,
            error=str(error) if error else None,
            error_type=type(error).__name__ if isinstance(error, Exception) else None,
            timings=dict(self.timings),
            worker=self.worker,
            parent_id=self.parent_id,
            **(retry.fields() if retry else {}),
        )
        await self.sink(status)
        record_request(status)
        log.info(
            "request %s name=%s error=%s",
            state.value,
            self.name or "-",
            status.error or "-",
            extra={"request_id": self.request_id},
        )
        return status
