"""Web views every worker serves, the token check, and JSON errors on every route."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from aiohttp import web as aiohttp_web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from faust import web

from streams.config import Settings
from streams.exceptions import RecordValidationError
from streams.messages.metrics import CONTENT_TYPE, render
from streams.reliability.decoding import RequestTooLargeError
from streams.reliability.retry import is_outage
from streams.servers.app import TrendStreamApp
from streams.servers.health import SERVERS, BrokerProbe, Server, ServerProbe, health_report

__all__ = [
    "RETRY_AFTER_S",
    "add_health_view",
    "add_metrics_view",
    "authorize",
    "error_response",
    "install_json_errors",
    "read_body",
]

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
"""What a 503 asks the client to wait before trying again (Retry-After)."""
Handler = Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]]


def error_response(status: int, message: str, **headers: str) -> aiohttp_web.Response:
    """A JSON error: `{"error": message}` with `status`."""
    return aiohttp_web.json_response({"error": message}, status=status, headers=headers or None)


def install_json_errors(app: TrendStreamApp) -> None:
    """Answer every error of this worker's web server as JSON, never a traceback or a 500 for
    bad input: a route or method that does not exist (404, 405), a body too large (413),
    invalid input (400), a server the worker needs away (503 with Retry-After), and anything
    unexpected (500, logged with its traceback); also what aiohttp refuses before any route
    sees it (a request line or header over its 8,190 bytes, a malformed request: 400). Call
    before the web server starts."""
    server = app.web
    middlewares = server.web_app.middlewares  # type: ignore[attr-defined]
    if _json_errors not in middlewares:
        middlewares.append(_json_errors)
        server._runner = _JsonErrorRunner(server.web_app, access_log=None)  # type: ignore[attr-defined]


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, answering a request it could not parse with the JSON
    error of every route instead of plain text."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> aiohttp_web.StreamResponse:
        if request.writer.output_size > 0:  # an answer has begun: aiohttp closes the connection
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, LineTooLong):
            message = (
                f"the request line (method and URL) or a header is longer than {exc.args[1]} "
                "bytes, the most this server reads"
            )
        problem = message or HTTPStatus(status).phrase
        if status >= 500:
            log.error("web request failed status=%d: %s", status, problem, exc_info=exc)
        else:
            log.warning("web request refused status=%d: %s", status, problem[:300])
        response = error_response(status, problem)
        response.force_close()
        return response


class _JsonErrorServer(aiohttp_web.Server):
    """aiohttp's server, whose connections are _JsonErrorHandlers."""

    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class _JsonErrorRunner(aiohttp_web.AppRunner):
    """Faust's runner of the worker's web app, serving it with a _JsonErrorServer."""

    async def _make_server(self) -> aiohttp_web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # aiohttp builds it with no way to pick the handler
        return server


@aiohttp_web.middleware
async def _json_errors(
    request: aiohttp_web.Request, handler: Handler
) -> aiohttp_web.StreamResponse:
    try:
        response = await handler(request)
    except aiohttp_web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _http_reason(exc), **_kept_headers(exc))
    except Exception as exc:  # noqa: BLE001 - every failure answers JSON (500s are logged)
        return _failed(request, exc)
    if response.status >= 400 and not _is_json(response):
        return error_response(response.status, _text_of(response))
    return response


def _failed(request: aiohttp_web.Request, exc: Exception) -> aiohttp_web.Response:
    """The answer to a view that raised: bad input 400/413, an outage 503, else 500."""
    if isinstance(exc, RequestTooLargeError):
        return error_response(413, str(exc))
    if isinstance(exc, RecordValidationError):
        return error_response(400, str(exc))
    if isinstance(exc, RecursionError):
        return error_response(400, "the request nests too deeply")
    if is_outage(exc):
        log.warning(
            "web %s %s: a server is unavailable: %s: %s",
            request.method,
            request.path,
            type(exc).__name__,
            exc,
        )
        return error_response(
            503,
            f"a server this worker needs is unavailable ({type(exc).__name__}); "
            f"try again in {RETRY_AFTER_S} s",
            **{"Retry-After": str(RETRY_AFTER_S)},
        )
    log.exception("web %s %s failed", request.method, request.path, exc_info=exc)
    return error_response(500, f"internal error ({type(exc).__name__}); see the worker's log")


def _http_reason(exc: aiohttp_web.HTTPException) -> str:
    text = exc.text or ""
    if text.startswith(f"{exc.status}: "):
        text = text.removeprefix(f"{exc.status}: ")
    return text.strip() or exc.reason


def _kept_headers(exc: aiohttp_web.HTTPException) -> dict[str, str]:
    kept = ("Allow", "Retry-After")
    return {name: exc.headers[name] for name in kept if name in exc.headers}


def _is_json(response: aiohttp_web.StreamResponse) -> bool:
    return (response.content_type or "").endswith("json")


def _text_of(response: aiohttp_web.StreamResponse) -> str:
    body = getattr(response, "text", None)
    text = body.strip() if isinstance(body, str) else ""
    return text[:500] or response.reason


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The request's body; RequestTooLargeError (413) over `max_bytes` (MAX_REQUEST_BYTES),
    checked against Content-Length first, then while reading."""
    declared = request.content_length  # type: ignore[attr-defined]
    if declared is not None and declared > max_bytes:
        raise RequestTooLargeError(
            f"request body is {declared:,} bytes; MAX_REQUEST_BYTES is {max_bytes:,}"
        )
    stream = request.content  # type: ignore[attr-defined]
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(max_bytes + 1 - size):  # what has arrived: loop to EOF
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise RequestTooLargeError(
                f"request body is over MAX_REQUEST_BYTES ({max_bytes:,} bytes)"
            )
    return b"".join(chunks)


def add_health_view(
    app: TrendStreamApp,
    servers: tuple[Server, ...] = SERVERS,
    details: Callable[[], Mapping[str, Any]] | None = None,
) -> Any:
    """Register GET /health: 200 with the report when the broker and the servers the worker
    needs (`servers`: PostgreSQL and Redis) answer, 503 (status `degraded`) otherwise;
    `details` adds the service's own keys to the report.

    Also GET /health/live (200 while the worker answers, whatever its servers do) and
    GET /health/ready (200 with the report when it is ready: broker and servers answering,
    partitions assigned, no rebalance; 503 otherwise). Every error of the worker's web server
    is answered as JSON (`install_json_errors`).
    """
    install_json_errors(app)
    probe = BrokerProbe(app.settings)
    needed = ServerProbe(app.settings, servers)

    @app.page("/health")
    async def health(view: web.View, request: web.Request) -> web.Response:
        report = await health_report(app, app.service_name, probe, needed)
        report.update(details() if details is not None else {})
        return view.json(report, status=200 if report["status"] == "ok" else 503)

    @app.page("/health/live")
    async def live(view: web.View, request: web.Request) -> web.Response:
        return view.json({"service": app.service_name, "live": True})

    @app.page("/health/ready")
    async def ready(view: web.View, request: web.Request) -> web.Response:
        report = await health_report(app, app.service_name, probe, needed)
        return view.json(report, status=200 if report["ready"] else 503)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close_probe(sender: Any, **kwargs: Any) -> None:
        await probe.close()
        await needed.close()

    return health


def add_metrics_view(app: TrendStreamApp) -> Any:
    """Register GET /metrics: this worker's metrics in Prometheus' text format."""

    @app.page("/metrics")
    async def metrics(view: web.View, request: web.Request) -> web.Response:
        return view.bytes(render(app), headers={"Content-Type": CONTENT_TYPE})

    return metrics


def authorize(view: web.View, request: web.Request, settings: Settings) -> web.Response | None:
    """None when the request carries `Authorization: Bearer <API_TOKEN>`, else a 401 response."""
    token = settings.api_token.get_secret_value()
    if not token:
        return view.json({"error": "API_TOKEN is not set: web actions are disabled"}, status=401)
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        return view.json({"error": "missing or wrong bearer token"}, status=401)
    return None
