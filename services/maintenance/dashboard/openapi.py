"""The OpenAPI 3 document of the dashboard's JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from services.maintenance.dashboard.operations import OPERATIONS, Operation, Param

__all__ = ["OPENAPI_PATH", "SCHEMAS", "document"]

OPENAPI_PATH = "/api/openapi.json"


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


STRING, INTEGER, NUMBER, BOOLEAN = (
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
)
NULLABLE_STRING = {"type": "string", "nullable": True}
NULLABLE_NUMBER = {"type": "number", "nullable": True}
LAG = {
    "type": "integer",
    "nullable": True,
    "description": "null when an offset could not be read (status UNKNOWN), never 0 for it",
}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
STATES = ["PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED"]
REQUEST = _object(
    {
        "request_id": STRING,
        "state": {"type": "string", "enum": STATES},
        "plugin": STRING,
        "worker": STRING,
        "updated_at": NULLABLE_NUMBER,
        "parent_id": NULLABLE_STRING,
        "error": NULLABLE_STRING,
        "error_type": NULLABLE_STRING,
        "retries": INTEGER,
        "eta": NULLABLE_NUMBER,
        "runtime_s": NULLABLE_NUMBER,
    },
    ("request_id", "state"),
)
PARTITION = _object(
    {
        "topic": STRING,
        "partition": INTEGER,
        "committed": {"type": "integer", "nullable": True},
        "end_offset": {"type": "integer", "nullable": True},
        "lag": LAG,
        "status": STRING,
        "reason": NULLABLE_STRING,
    }
)
SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object({"error": STRING}, ("error",)),
    "Workers": _object(
        {
            "workers": _list(
                _object(
                    {
                        "service": STRING,
                        "url": STRING,
                        "reachable": BOOLEAN,
                        "status": {"type": "string", "enum": ["ok", "degraded", "unreachable"]},
                        "live": BOOLEAN,
                        "ready": BOOLEAN,
                        "version": STRING,
                        "app_id": STRING,
                        "assignment": _list(STRING),
                        "error": {"type": "string", "description": "why it did not answer"},
                        "stats": {"type": "object", "additionalProperties": NUMBER},
                    }
                )
            )
        },
        ("workers",),
    ),
    "Schedules": _object(
        {
            "schedules": _list(
                _object(
                    {
                        "service": STRING,
                        "job": STRING,
                        "runs": {"type": "string", "description": "what each slot requests"},
                        "cron": {"type": "string", "description": "empty: switched off"},
                        "timezone": STRING,
                        "next_run": NULLABLE_STRING,
                        "last_slot": NULLABLE_STRING,
                        "last_status": NULLABLE_STRING,
                        "last_request_id": NULLABLE_STRING,
                        "last_worker": NULLABLE_STRING,
                    }
                )
            )
        },
        ("schedules",),
    ),
    "Requests": _object(
        {
            "requests": _list(_ref("Request")),
            "total": {"type": "integer", "description": "requests matching, on every page"},
            "limit": INTEGER,
            "offset": INTEGER,
            "next_offset": {**INTEGER, "nullable": True, "description": "null: the last page"},
            "previous_offset": {**INTEGER, "nullable": True, "description": "null: the first"},
        },
        ("requests", "total", "limit", "offset", "next_offset", "previous_offset"),
    ),
    "Request": REQUEST,
    "RequestDetail": {
        "allOf": [
            _ref("Request"),
            _object(
                {
                    "result": {**ANY_OBJECT, "nullable": True},
                    "traceback": NULLABLE_STRING,
                    "timeline": _list(
                        _object(
                            {
                                "state": {"type": "string", "enum": STATES},
                                "at": NUMBER,
                                "worker": STRING,
                                "error": NULLABLE_STRING,
                                "error_type": NULLABLE_STRING,
                                "retries": INTEGER,
                                "eta": {**NULLABLE_STRING, "format": "date-time"},
                            }
                        )
                    ),
                }
            ),
        ]
    },
    "Revoked": _object({"request_id": STRING, "command": STRING}, ("request_id", "command")),
    "CollectRequest": _object(
        {
            "plugin": STRING,
            "request_id": STRING,
            "options": ANY_OBJECT,
            "dry_run": BOOLEAN,
            "then_process": BOOLEAN,
            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
            "deadline": {"type": "string", "format": "date-time"},
        },
        ("plugin",),
    ),
    "Accepted": _object(
        {
            "request_id": STRING,
            "state": STRING,
            "lane": {"type": "string", "enum": ["bulk", "priority"]},
        },
        ("request_id", "state", "lane"),
    ),
    "JobAccepted": _object(
        {"request_id": STRING, "state": STRING, "job": STRING}, ("request_id", "state", "job")
    ),
    "Groups": _object(
        {
            "groups": _list(
                _object(
                    {
                        "group": STRING,
                        "status": STRING,
                        "state": STRING,
                        "members": INTEGER,
                        "total_lag": LAG,
                        "max_lag": LAG,
                        "max_partition": NULLABLE_STRING,
                        "unknown": INTEGER,
                        "sampled_at": NULLABLE_NUMBER,
                        "source": {"type": "string", "enum": ["live", "recorded"]},
                        "partitions": _list(PARTITION),
                    }
                )
            )
        },
        ("groups",),
    ),
    "LagHistory": _object(
        {
            "group": STRING,
            "minutes": INTEGER,
            "samples": _list(
                _object(
                    {
                        "sampled_at": STRING,
                        "total_lag": LAG,
                        "max_lag": LAG,
                        "statuses": _list(STRING),
                    }
                )
            ),
        },
        ("group", "samples"),
    ),
    "DeadLetters": _object(
        {
            "total": INTEGER,
            "summary": {
                "type": "object",
                "description": "counts by original topic, then by error class",
                "additionalProperties": {"type": "object", "additionalProperties": INTEGER},
            },
            "entries": _list(
                _object(
                    {
                        "id": STRING,
                        "topic": STRING,
                        "key": NULLABLE_STRING,
                        "error_class": STRING,
                        "error_message": STRING,
                        "attempts": INTEGER,
                        "dead_at": NUMBER,
                        "redrives": INTEGER,
                    }
                )
            ),
        },
        ("total", "summary", "entries"),
    ),
    "DeadLetterFilter": _object(
        {
            "topic": STRING,
            "error_class": STRING,
            "ids": _list(STRING),
            "since": {"description": "epoch seconds or ISO 8601 with a timezone"},
            "until": {"description": "epoch seconds or ISO 8601 with a timezone"},
            "all": {"type": "boolean", "description": "true: every dead letter (no condition)"},
        }
    ),
    "Redriven": _object({"redriven": _list(STRING), "count": INTEGER}, ("redriven", "count")),
    "Purged": _object({"purged": _list(STRING), "count": INTEGER}, ("purged", "count")),
    "Plugins": _object(
        {
            "window_hours": INTEGER,
            "plugins": _list(
                _object(
                    {
                        "name": STRING,
                        "origin": STRING,
                        "enabled": BOOLEAN,
                        "health": {**ANY_OBJECT, "nullable": True},
                    }
                )
            ),
            "groups": _list(STRING),
            "process_jobs": _list(STRING),
            "maintenance_jobs": _list(STRING),
            "control_commands": _list(STRING),
        },
        ("plugins",),
    ),
    "Trends": _object(
        {
            "hours": INTEGER,
            "trends": _list(
                _object(
                    {
                        "topic_id": STRING,
                        "label": STRING,
                        "keywords": _list(STRING),
                        "items": INTEGER,
                        "state": STRING,
                        "score": NUMBER,
                        "z_score": NUMBER,
                        "rank": {"type": "integer", "nullable": True},
                        "updated_at": STRING,
                        "sparkline": _list(INTEGER),
                    }
                )
            ),
        },
        ("hours", "trends"),
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _parameter(param: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": param.kind}
    for key in ("default", "minimum", "maximum"):
        if getattr(param, key) is not None:
            schema[key] = getattr(param, key)
    found: dict[str, Any] = {
        "name": param.name,
        "in": param.where,
        "required": param.where == "path",
        "description": param.description,
        "schema": schema,
    }
    if param.example is not None:
        found["example"] = param.example
    return found


def _operation(op: Operation) -> dict[str, Any]:
    responses = {
        str(op.status): {
            "description": op.summary,
            "content": {"application/json": {"schema": _ref(op.response)}},
        },
        "400": _error("a parameter or the body is invalid"),
        "500": _error("a bug: the error's class, no traceback (logged by the worker)"),
        "503": _error("Redis, PostgreSQL or Kafka is unreachable; try again after Retry-After"),
    }
    if any(param.where == "path" for param in op.params):
        responses["404"] = _error("no such request or group")
    body: dict[str, Any] = {
        "operationId": op.handler,
        "summary": op.summary,
        "tags": ["actions" if op.action else "read"],
        "parameters": [_parameter(param) for param in op.params],
        "responses": responses,
    }
    if op.action:
        body["security"] = [{"bearer": []}]
        responses["401"] = _error("missing or wrong bearer token, or API_TOKEN not set")
    if op.body:
        responses["413"] = _error("the body is larger than MAX_REQUEST_BYTES")
        schema = {"schema": _ref(op.body)}
        body["requestBody"] = {"required": True, "content": {"application/json": schema}}
    return body


def document(version: str = "0.1.0") -> dict[str, Any]:
    """The whole OpenAPI 3.0 document, built from OPERATIONS."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "trend-stream dashboard API",
            "version": version,
            "description": "Read routes are open; actions (POST) need "
            "`Authorization: Bearer <API_TOKEN>` and answer 401 without it.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
