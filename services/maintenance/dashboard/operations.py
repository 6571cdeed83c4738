"""The dashboard's JSON routes, one table: what serves them, the OpenAPI document and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.catalog import RebuildOptions

__all__ = ["OPERATIONS", "Operation", "Param"]


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    description: str
    kind: Literal["integer", "string"] = "string"
    where: Literal["query", "path"] = "query"
    default: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    example: str | None = None


@dataclass(frozen=True)
class Operation:
    """One route of the API: method, path, the DashboardApi method, whether it is an action."""

    method: Literal["get", "post"]
    path: str
    handler: str
    summary: str
    response: str
    """The name of the response's schema (openapi.SCHEMAS)."""
    params: tuple[Param, ...] = ()
    body: str | None = None
    """The name of the request body's schema; None: no body."""
    status: int = 200

    @property
    def action(self) -> bool:
        """Actions (POST) need `Authorization: Bearer <API_TOKEN>`."""
        return self.method == "post"


_REBUILD = RebuildOptions()
"""The rebuild job's default options (streams/catalog.py)."""
REQUEST_ID = Param("request_id", "the request's id", where="path", example="r1")
GROUP = Param(
    "group",
    "a service's consumer group, `<NAMESPACE>trend-stream-<service>`",
    where="path",
    example="trend-stream-collector",
)
OPERATIONS = (
    Operation(
        "get",
        "/api/workers",
        "workers",
        "Each service's worker: health, assignment, figures",
        "Workers",
    ),
    Operation("get", "/api/schedules", "schedules", "Leader schedules with next run", "Schedules"),
    Operation(
        "get",
        "/api/requests",
        "requests",
        "Latest requests, newest first, a page at a time, with the total",
        "Requests",
        params=(
            Param("state", "states separated by commas (SUCCESS,FAILURE)", example="FAILURE"),
            Param("plugin", "a plugin, group or job name", example="hackernews"),
            Param("limit", "page size", "integer", default=50, minimum=1, maximum=500),
            Param(
                "offset",
                "requests skipped, newest first (the page's start)",
                "integer",
                default=0,
                minimum=0,
                maximum=1_000_000,
            ),
        ),
    ),
    Operation(
        "get",
        "/api/requests/{request_id}",
        "request",
        "One request: status, result, traceback and timeline",
        "RequestDetail",
        params=(REQUEST_ID,),
    ),
    Operation(
        "post",
        "/api/requests/{request_id}/cancel",
        "cancel",
        "Revoke a request (skipped if queued, stopped if running)",
        "Revoked",
        params=(REQUEST_ID,),
        status=202,
    ),
    Operation(
        "post",
        "/api/collect",
        "collect",
        "Trigger a collection",
        "Accepted",
        body="CollectRequest",
        status=202,
    ),
    Operation(
        "post",
        "/api/topics/rebuild",
        "rebuild_topics",
        "Request a dry run of rebuilding the topics from the log (the processor's rebuild_topics)",
        "JobAccepted",
        params=(
            Param("hours", "span replayed", "integer", default=_REBUILD.hours, minimum=1),
            Param("top", "trends listed", "integer", default=_REBUILD.top, minimum=1, maximum=100),
        ),
        status=202,
    ),
    Operation("get", "/api/groups", "groups", "Consumer groups: lag per partition", "Groups"),
    Operation(
        "get",
        "/api/groups/{group}/history",
        "group_history",
        "A group's lag over time",
        "LagHistory",
        params=(
            GROUP,
            Param("minutes", "how far back", "integer", default=60, minimum=1, maximum=7 * 24 * 60),
        ),
    ),
    Operation(
        "get",
        "/api/deadletters",
        "deadletters",
        "Active dead letters: counts and the latest ones",
        "DeadLetters",
        params=(
            Param("topic", "the original topic (catalog name)", example="collect.requests"),
            Param("error_class", "the last error's class", example="RecordValidationError"),
        ),
    ),
    Operation(
        "post",
        "/api/deadletters/redrive",
        "redrive",
        "Send matching dead letters back to their topic",
        "Redriven",
        body="DeadLetterFilter",
    ),
    Operation(
        "post",
        "/api/deadletters/purge",
        "purge",
        "Drop matching dead letters",
        "Purged",
        body="DeadLetterFilter",
    ),
    Operation(
        "get",
        "/api/plugins",
        "plugins",
        "Registered plugins and request kinds, plugin health",
        "Plugins",
    ),
    Operation(
        "get",
        "/api/trends/top",
        "top_trends",
        "Top trends with an hourly sparkline",
        "Trends",
        params=(
            Param("limit", "at most this many", "integer", default=10, minimum=1, maximum=100),
            Param("hours", "sparkline hours", "integer", default=24, minimum=2, maximum=336),
        ),
    ),
)
