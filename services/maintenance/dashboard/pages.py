"""The dashboard's HTML pages: server-rendered frames that dashboard.js fills from the API."""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files

__all__ = ["STATIC_TYPES", "dashboard_page", "request_page", "static_file"]

STATIC_TYPES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
STATES = ("PENDING", "RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
PAGE_SIZES = (10, 25, 50, 100)
"""Requests per page the panel offers (as Flower does); 50 at first."""


@cache
def static_file(name: str) -> bytes:
    """A file of the package's `static/` folder (only the names in STATIC_TYPES)."""
    if name not in STATIC_TYPES:
        raise KeyError(name)
    return (files(__package__) / "static" / name).read_bytes()


def _frame(title: str, page: str, refresh_s: float, body: str, extra: str = "") -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
</head>
<body data-page="{page}" data-refresh-ms="{round(refresh_s * 1000)}"{extra}>
<header>
  <h1><a href="/dashboard">trend-stream</a> <small>{escape(title)}</small></h1>
  <label>API token <input id="token" type="password" autocomplete="off"
    placeholder="needed for actions"></label>
  <span id="updated">loading…</span>
</header>
<div id="action-result" role="status"></div>
<main>
{body}
</main>
<script src="/dashboard/static/dashboard.js"></script>
</body>
</html>
"""


def _section(ident: str, title: str, inner: str, note: str = "") -> str:
    hint = f' <small class="note">{escape(note)}</small>' if note else ""
    return (
        f'<section id="{ident}"><h2>{escape(title)}{hint}</h2>'
        f'<div class="error" hidden></div>{inner}</section>'
    )


def _table(ident: str, headers: tuple[str, ...]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (
        f'<table id="{ident}"><thead><tr>{cells}</tr></thead>'
        f'<tbody><tr class="empty"><td colspan="{len(headers)}">loading…</td></tr></tbody></table>'
    )


def _request_filters() -> str:
    options = "".join(f'<option value="{s}">{s}</option>' for s in STATES)
    return (
        '<form id="request-filters" class="inline">'
        '<label>state <select id="filter-state"><option value="">any</option>'
        f"{options}</select></label>"
        '<label>plugin <input id="filter-plugin" size="14" placeholder="any"></label>'
        "</form>"
    )


def _pager() -> str:
    sizes = "".join(
        f'<option value="{n}"{" selected" if n == 50 else ""}>{n}</option>' for n in PAGE_SIZES
    )
    return (
        '<form id="requests-pager" class="inline">'
        '<button id="requests-previous" type="button" disabled>&lsaquo; Previous</button>'
        '<span id="requests-range">…</span>'
        '<button id="requests-next" type="button" disabled>Next &rsaquo;</button>'
        f'<label>per page <select id="requests-page-size">{sizes}</select></label>'
        "</form>"
    )


def _trigger_form() -> str:
    return (
        '<form id="trigger" class="inline">'
        '<label>plugin <input id="trigger-plugin" size="14" value="hackernews"></label>'
        '<label>options <input id="trigger-options" size="30" value="{}"></label>'
        '<label><input id="trigger-dry-run" type="checkbox" checked> dry run</label>'
        '<button type="submit">Trigger</button></form>'
    )


def dashboard_page(refresh_s: float) -> str:
    """The overview: workers, lag, requests, dead letters, plugins, trends, schedules."""
    body = "\n".join(
        [
            _section(
                "workers-section",
                "Workers",
                _table("workers", ("service", "status", "ready", "url", "assignment", "figures")),
            ),
            _section(
                "groups-section",
                "Consumer groups",
                '<svg id="lag-chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg>'
                '<div id="lag-legend"></div>'
                + _table(
                    "groups",
                    ("group", "topic", "partition", "committed", "end", "lag", "status"),
                ),
                "lag per partition; chart: total lag over the last hour",
            ),
            _section(
                "requests-section",
                "Requests",
                _request_filters()
                + _table(
                    "requests",
                    ("request", "state", "plugin", "worker", "updated", "runtime"),
                )
                + _pager()
                + _trigger_form(),
            ),
            _section(
                "deadletters-section",
                "Dead letters",
                _table("deadletters", ("topic", "error class", "count", "actions"))
                + _table("deadletter-entries", ("id", "key", "error", "attempts", "dead at")),
            ),
            _section(
                "plugins-section",
                "Plugins",
                _table(
                    "plugins",
                    (
                        "plugin",
                        "origin",
                        "enabled",
                        "runs",
                        "success",
                        "mean ms",
                        "last success",
                        "flag",
                    ),
                ),
            ),
            _section(
                "trends-section",
                "Top trends",
                _table("trends", ("rank", "topic", "state", "score", "items", "last 24 h")),
            ),
            _section(
                "schedules-section",
                "Schedules",
                _table("schedules", ("service", "job", "cron", "next run", "last run", "status")),
                "times in UTC unless marked",
            ),
        ]
    )
    return _frame("dashboard", "dashboard", refresh_s, body)


def request_page(refresh_s: float, request_id: str) -> str:
    """One request: status, timeline, result and traceback, with a cancel button."""
    body = "\n".join(
        [
            _section(
                "request-section",
                f"Request {request_id}",
                '<dl id="request-status"></dl>'
                '<button id="cancel" type="button">Cancel (revoke)</button>',
            ),
            _section(
                "timeline-section",
                "Timeline",
                _table("timeline", ("at", "state", "worker", "retries", "error")),
            ),
            _section("result-section", "Result", '<pre id="result"></pre>'),
            _section("traceback-section", "Traceback", '<pre id="traceback"></pre>'),
        ]
    )
    extra = f' data-request-id="{escape(request_id, quote=True)}"'
    return _frame(f"request {request_id}", "request", refresh_s, body, extra)
