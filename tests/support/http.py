"""A real HTTP server on 127.0.0.1 serving canned responses, recording every request it gets."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["FixtureServer", "Reply", "Seen"]


@dataclass(frozen=True)
class Reply:
    """One canned response."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (to make a client time out)."""

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        """A JSON response."""
        body = json.dumps(payload).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def file(cls, path: Path, content_type: str = "application/json", **headers: str) -> Reply:
        """A file's bytes."""
        return cls(200, path.read_bytes(), {"Content-Type": content_type, **headers})


@dataclass(frozen=True)
class Seen:
    """One request the server got."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names lower-cased."""


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many concurrent connects must not hit the SYN retry delay


class FixtureServer:
    """Routes map a path to replies given in order, the last one repeating; unknown paths: 404."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Reply]] = {}
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, path: str, *replies: Reply) -> None:
        """Answer requests to `path` with these replies in order, the last one repeating."""
        if not replies:
            raise ValueError("a route needs at least one reply")
        with self._lock:
            self._routes[path] = list(replies)

    def requests(self, path: str | None = None) -> list[Seen]:
        """The requests received so far (to `path` only, if given)."""
        with self._lock:
            return [seen for seen in self._seen if path is None or seen.path == path]

    def start(self) -> FixtureServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed replies still pending end at once."""
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _answer(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        seen = Seen(path, parse_qs(query), {k.lower(): v for k, v in headers.items()})
        with self._lock:
            self._seen.append(seen)
            replies = self._routes.get(path)
            if not replies:
                return Reply(404, b'{"error": "not found"}')
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(server: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            reply = server._answer(parts.path, parts.query, dict(self.headers.items()))
            if reply.delay:
                server._wait(reply.delay)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(reply)  # fails when the client gave up waiting (a timeout test)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler
