"""The HTTP client of one plugin run: rate limit, bounded concurrency, retries with backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from services.collector.plugins.base import PluginError
from services.collector.ratelimit import RateLimiter
from streams.config import Settings

__all__ = ["Params", "SourceHttp", "retry_after_seconds"]

T = TypeVar("T")
Params = Mapping[str, str | int | float | bool]
"""Query parameters of a request."""


class _RetryableError(Exception):
    """An attempt failed in a way worth retrying (5xx, 429, timeout, connection error)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay
        """The wait the server asked for (Retry-After); None: the backoff delay."""


class SourceHttp:
    """GET with the plugin's rate limit, `HTTP_CONCURRENCY` requests in flight and retries."""

    def __init__(
        self,
        plugin: str,
        settings: Settings,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.plugin = plugin
        self._settings = settings
        self._limiter = limiter
        self._semaphore = asyncio.Semaphore(settings.http_concurrency)
        self._client = httpx.AsyncClient(
            timeout=settings.http_timeout_s,
            headers={"User-Agent": settings.http_user_agent},
            follow_redirects=True,
            transport=transport,
        )

    async def get(
        self, url: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A 2xx or 304 response; PluginError once retries are spent or on another status."""
        attempt = 0
        while True:
            try:
                return await self._attempt(url, params, headers)
            except _RetryableError as retry:
                await self._pause(url, attempt, retry)
            attempt += 1

    async def get_json(
        self, url: str, *, params: Params | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """The decoded JSON body; PluginError if the body is not JSON."""
        response = await self.get(url, params=params, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            raise PluginError(f"{self.plugin}: malformed JSON from {url}: {exc}") from None

    async def get_parsed(
        self, url: str, adapter: TypeAdapter[T], *, params: Params | None = None
    ) -> T:
        """The JSON body validated by `adapter`; PluginError naming the URL on a wrong shape."""
        payload = await self.get_json(url, params=params)
        try:
            return adapter.validate_python(payload)
        except ValidationError as exc:
            raise PluginError(
                f"{self.plugin}: unexpected payload from {url}: {_first_problem(exc)}"
            ) from None

    async def aclose(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _attempt(
        self, url: str, params: Params | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        async with self._semaphore:
            if self._limiter is not None:
                await self._limiter.acquire()
            response = await self._send(url, params, headers)
        return self._check(url, response)

    async def _send(
        self, url: str, params: Params | None, headers: Mapping[str, str] | None
    ) -> httpx.Response:
        try:
            return await self._client.get(url, params=params, headers=headers)
        except httpx.TimeoutException:
            raise _RetryableError("timed out") from None
        except httpx.UnsupportedProtocol as exc:
            raise PluginError(f"{self.plugin}: GET {url} failed: {exc}") from None
        except httpx.TransportError as exc:
            raise _RetryableError(f"{type(exc).__name__}: {exc}") from None
        except httpx.RequestError as exc:
            raise PluginError(f"{self.plugin}: GET {url} failed: {exc}") from None

    def _check(self, url: str, response: httpx.Response) -> httpx.Response:
        status = response.status_code
        if response.is_success or status == httpx.codes.NOT_MODIFIED:
            return response
        if status == httpx.codes.TOO_MANY_REQUESTS:
            raise _RetryableError("HTTP 429", self._retry_after(url, response))
        if status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise _RetryableError(f"HTTP {status}")
        reason = f"HTTP {status} {response.reason_phrase}"
        raise PluginError(f"{self.plugin}: GET {url} failed: {reason}")

    def _retry_after(self, url: str, response: httpx.Response) -> float | None:
        delay = retry_after_seconds(response.headers.get("Retry-After"))
        longest = self._settings.http_retry_after_max_s
        if delay is not None and delay > longest:
            raise PluginError(
                f"{self.plugin}: GET {url} answered HTTP 429 with Retry-After {delay:.0f} s, "
                f"more than HTTP_RETRY_AFTER_MAX_S ({longest:g} s)"
            )
        return delay

    async def _pause(self, url: str, attempt: int, retry: _RetryableError) -> None:
        attempts = attempt + 1
        if attempts > self._settings.http_max_retries:
            raise PluginError(
                f"{self.plugin}: GET {url} failed after {attempts} attempts: {retry.reason}"
            )
        await asyncio.sleep(retry.delay if retry.delay is not None else self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        settings = self._settings
        ceiling = min(settings.http_backoff_max_s, settings.http_backoff_s * 2**attempt)
        return random.uniform(0, ceiling)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors()
    where = ".".join(str(part) for part in errors[0]["loc"]) or "payload"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {errors[0]['msg']}{more}"
