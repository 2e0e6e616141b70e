"""What the three clients share: URL checks, timeouts, retries and error mapping over httpx.

Every client builds one `ServiceClient` per run (connection reuse) and passes an optional
`transport`: production leaves it None, tests and the sandbox plug an httpx transport in.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from cancelbot.errors import (
    AuthError,
    BadResponse,
    ConfigError,
    NotFound,
    RateLimited,
    ServiceError,
    Unreachable,
)

log = logging.getLogger("cancelbot.http")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Statuses worth another try for a request that is safe to repeat.
RETRY_STATUSES = {502, 503, 504}
REDACTED_HEADERS = {"authorization", "x-amz-access-token", "cookie", "set-cookie"}


def check_base_url(name: str, url: str) -> str:
    """https:// everywhere; http:// only for loopback hosts (local tests and mocks)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an https:// URL, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"{name} must use https:// (http:// is only allowed for localhost)")
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class RetryPolicy:
    """How long a client may keep trying. `sleep` is injectable so tests do not wait."""

    def __init__(
        self,
        attempts: int = 4,
        max_total_wait: float = 60.0,
        base_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.attempts = attempts
        self.max_total_wait = max_total_wait
        self.base_delay = base_delay
        self.sleep = sleep

    def backoff(self, attempt: int) -> float:
        # Exponential with full jitter: SP-API's 429s usually say nothing about when to retry.
        return random.uniform(0, self.base_delay * (2**attempt))


class ServiceClient:
    """One httpx.Client for one service, with its failures turned into `ServiceError`s."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        error_detail: Callable[[httpx.Response], str] | None = None,
    ) -> None:
        self.service = service
        self.retry = retry or RetryPolicy()
        self._error_detail = error_detail or _default_error_detail
        self._client = httpx.Client(
            base_url=base_url,
            transport=transport,
            auth=auth,
            headers=headers,
            timeout=timeout,
            event_hooks={"response": [_log_response]},
        )

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200, 201, 202, 204),
        what: str = "",
        **kwargs: Any,
    ) -> httpx.Response:
        """Send, retrying only when repeating cannot apply a change twice.

        GET/PUT/DELETE are retried on connection errors and 502/503/504. Every method is retried
        on 429 (the server refused it) and on a failure to connect (nothing was sent). A POST that
        may have reached the server (read timeout, 5xx) is never repeated here: the caller
        re-checks the remote state instead.
        """
        idempotent = method.upper() in ("GET", "PUT", "DELETE", "HEAD")
        waited = 0.0
        what = what or f"{method} {url}"
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.ConnectError as exc:
                if not last:
                    waited += self._pause(self.retry.backoff(attempt), waited)
                    continue
                raise Unreachable(self.service, f"cannot connect ({what})") from exc
            except httpx.TimeoutException as exc:
                if idempotent and not last:
                    waited += self._pause(self.retry.backoff(attempt), waited)
                    continue
                raise Unreachable(self.service, f"timed out ({what})") from exc
            except httpx.TransportError as exc:
                if idempotent and not last:
                    waited += self._pause(self.retry.backoff(attempt), waited)
                    continue
                raise Unreachable(self.service, f"connection failed ({what})") from exc

            if response.status_code in ok:
                return response
            if response.status_code == 429 and not last:
                delay = retry_after_seconds(response)
                delay = self.retry.backoff(attempt) if delay is None else delay
                if waited + delay <= self.retry.max_total_wait:
                    waited += self._pause(delay, waited)
                    continue
            if response.status_code in RETRY_STATUSES and idempotent and not last:
                waited += self._pause(self.retry.backoff(attempt), waited)
                continue
            raise self.error_for(response, what)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _pause(self, delay: float, waited: float) -> float:
        delay = max(0.0, min(delay, self.retry.max_total_wait - waited))
        if delay:
            self.retry.sleep(delay)
        return delay

    def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """Send and parse a JSON object, or raise BadResponse naming the service."""
        response = self.request(method, url, **kwargs)
        return parse_json_object(self.service, response, kwargs.get("what") or f"{method} {url}")

    def error_for(self, response: httpx.Response, what: str) -> ServiceError:
        status = response.status_code
        request_id = (
            response.headers.get("x-request-id")
            or response.headers.get("x-amzn-RequestId")
            or None
        )
        detail = self._error_detail(response)
        message = f"{what}: {detail}" if detail else what
        if status in (401, 403):
            return AuthError(self.service, message, status=status, request_id=request_id)
        if status == 404:
            return NotFound(self.service, message, status=status, request_id=request_id)
        if status == 429:
            return RateLimited(
                self.service, f"{message}: rate limit, try again in a minute",
                status=status, request_id=request_id,
            )
        return ServiceError(self.service, message, status=status, request_id=request_id)


def parse_json_object(service: str, response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadResponse(service, f"{what}: the answer is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadResponse(service, f"{what}: expected a JSON object")
    return data


def _default_error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict):
        for key in ("message", "description", "error_description", "error"):
            if isinstance(data.get(key), str):
                return data[key]
    return ""


def _log_response(response: httpx.Response) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    request = response.request
    elapsed = ""
    try:
        response.read()
        elapsed = f" {response.elapsed.total_seconds() * 1000:.0f} ms"
    except (RuntimeError, httpx.HTTPError):
        pass
    # Headers and bodies are never logged, nor the query: a pre-signed upload URL carries its
    # signature there.
    url = request.url.copy_with(query=None, fragment=None)
    query = "?…" if request.url.query else ""
    log.debug("%s %s%s -> %s%s", request.method, url, query, response.status_code, elapsed)
