"""The demo sources server: the week's items over HTTP in the shapes of the real source APIs, up
to a clock the demo moves forward (`POST /demo/clock`), and the plugin settings pointing at it."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.demo.apis import FEED_ENTRIES, LOOKBACK, Reply, SourceApis
from streams.demo.week import Week, hour_of

__all__ = ["DemoServer", "plugin_settings"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a plugin opens many connections at once


class DemoServer:
    """Serves a week (moved to end before now) on 127.0.0.1; its clock starts at the week's first
    hour, so that the demo can replay the week in order."""

    def __init__(self, week: Week, port: int = 0, host: str = "127.0.0.1") -> None:
        self._server = _Server((host, port), _handler(self))
        self.week = week
        self.apis = SourceApis(week, self.url)
        self._clock = hour_of(week.start)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.requests: dict[str, int] = {}
        """GET requests answered so far, by API (hackernews, reddit, rss, mastodon, demo)."""

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def clock(self) -> datetime:
        """What the sources show: everything published up to this time."""
        with self._lock:
            return self._clock

    def set_clock(self, at: datetime) -> None:
        """Move the clock (forwards or backwards), clamped to the week's first and last hour."""
        first, last = hour_of(self.week.start), hour_of(self.week.end) + LOOKBACK
        with self._lock:
            self._clock = min(max(at.astimezone(UTC), first), last)

    def status(self) -> dict[str, Any]:
        """The week's span, the clock and how much of the week it shows (GET /demo)."""
        clock = self.clock
        return {
            "start": self.week.start.isoformat(),
            "end": self.week.end.isoformat(),
            "clock": clock.isoformat(),
            "items": len(self.week),
            "published": sum(1 for item in self.week if item.published_at <= clock),
            "requests": dict(self.requests),
            "settings": plugin_settings(self.url, self.week),
        }

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The answer to one request (header names in lower case)."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            kind = _kind(path)
            self.requests[kind] = self.requests.get(kind, 0) + 1
        if path == "/demo" and method == "GET":
            return Reply.json(self.status())
        if path == "/demo/clock" and method == "POST":
            return self._move_clock(body)
        if method != "GET":
            return Reply.json({"error": "method not allowed"}, 405)
        if path == "/":
            return Reply(200, _index(self).encode(), "text/plain; charset=utf-8")
        return self.apis.answer(path, query, headers, self.clock)

    def _move_clock(self, body: bytes) -> Reply:
        """POST /demo/clock {"at": "<ISO 8601 time with a timezone>"}."""
        try:
            at = datetime.fromisoformat(str(json.loads(body or b"{}")["at"]))
        except (ValueError, KeyError, TypeError) as exc:
            return Reply.json({"error": f'expected {{"at": "<ISO 8601 time>"}}: {exc}'}, 400)
        if at.tzinfo is None:
            return Reply.json({"error": "the time needs a timezone"}, 400)
        self.set_clock(at)
        return Reply.json(self.status())

    def start(self) -> DemoServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until stop()."""
        self._server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def plugin_settings(url: str, week: Week) -> dict[str, str]:
    """The environment variables that point every HTTP plugin at the demo server at `url`: every
    source, all its subreddits and feeds, no rate limits (nothing leaves the machine), no
    Mastodon tags (the week's items are its statuses)."""
    url = url.rstrip("/")
    return {
        "HACKERNEWS_BASE_URL": url,
        "HACKERNEWS_LISTS": "new,top",
        "REDDIT_BASE_URL": url,
        "REDDIT_SUBREDDITS": ",".join(week.channels("reddit")),
        "REDDIT_LISTINGS": "new",
        "RSS_FEEDS": ",".join(SourceApis(week).feed_urls(url)),
        "MASTODON_BASE_URL": url,
        "MASTODON_INCLUDE_TAGS": "false",
        "PLUGIN_RATE_LIMITS": "",
    }


def _kind(path: str) -> str:
    if path.startswith("/v0/"):
        return "hackernews"
    if path.startswith("/r/"):
        return "reddit"
    if path.startswith("/feeds/"):
        return "rss"
    if path.startswith("/api/v1/"):
        return "mastodon"
    return "demo"


def _index(server: DemoServer) -> str:
    status = server.status()
    lines = [
        "trend-stream demo sources: a week of items in the shapes of the source APIs",
        f"week {status['start']} .. {status['end']}, clock {status['clock']}, "
        f"{status['published']} of {status['items']} items published",
        "",
        "GET  /v0/{top,new,best,ask,show,job}stories.json, /v0/item/<id>.json   (Hacker News)",
        "GET  /r/<subreddit>/{hot,new,top,rising}.json?limit=N                  (Reddit)",
        f"GET  /feeds/<publication>.xml|.atom (latest {FEED_ENTRIES} entries)    (RSS 2.0, Atom)",
        "GET  /api/v1/trends/statuses?limit=N, /api/v1/trends/tags              (Mastodon)",
        'GET  /demo; POST /demo/clock {"at": "<ISO 8601>"}                     (the clock)',
        "",
        *(f"{name}={value}" for name, value in plugin_settings(server.url, server.week).items()),
    ]
    return "\n".join(lines) + "\n"


def _handler(server: DemoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._reply(server.answer("GET", self.path, self._headers(), b""))

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            self._reply(server.answer("POST", self.path, self._headers(), self.rfile.read(size)))

        def _headers(self) -> dict[str, str]:
            return {name.lower(): value for name, value in self.headers.items()}

        def _reply(self, reply: Reply) -> None:
            self.send_response(reply.status)
            if reply.status != 304:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the counts are in GET /demo."""

    return Handler
