"""What the three clients share: URL checks, timeouts, retries and error mapping over httpx.

Every client builds one `ServiceClient` per run (connection reuse) and passes an optional
`transport`: production leaves it None, tests and the sandbox plug an httpx transport in.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from datetime import timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
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
from cancelbot.i18n import _
from cancelbot.text import hide_secrets, keep_secret

log = logging.getLogger("cancelbot.http")
_C = TypeVar("_C", bound="OwnsServiceClient")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# Statuses worth another try for a request that is safe to repeat.
RETRY_STATUSES = {502, 503, 504}
MB = 1024 * 1024
# The largest answer read from a service (each client sets its own): past it the answer is
# refused, not kept, so a server streaming forever costs this much memory and no more.
DEFAULT_MAX_BYTES = 4 * MB
# An answer must be complete this long after the request left (at least twice the read
# timeout): a server dripping one byte at a time, never silent long enough for the read
# timeout, is stopped here.
DEFAULT_DEADLINE = 60.0


def check_base_url(name: str, url: str) -> str:
    """https:// everywhere; http:// only for loopback hosts (local tests and mocks).

    The value is never repeated in the error: a wrong variable may hold a key or a password.
    A URL with a user name or password in it is refused: it would show wherever a link does.
    """
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise ConfigError(_("{name} is not a valid URL (expected https://host…)").format(
            name=name)) from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(_("{name} must be an https:// URL (https://host…)").format(name=name))
    if "@" in parts.netloc:
        raise ConfigError(_("{name} must not contain a user name or password: put credentials "
                            "in their own variables").format(name=name))
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError(_("{name} holds spaces or characters a URL cannot (encode them)"
                            ).format(name=name))
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(_("{name} must use https:// (http:// is only allowed for localhost)"
                            ).format(name=name))
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait (a number or an HTTP date); None when it says nothing
    usable. A server's header is any text: nothing here raises."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.replace(".", "", 1).isdecimal():
        seconds = float(value)
        return seconds if seconds < float("inf") else None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": UTC, with no claim about the sender's zone
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class RetryPolicy:
    """How long a client may keep trying. `sleep` is injectable so tests do not wait.

    One policy serves every client of a run. `max_total_wait` bounds the waits of one call;
    `max_wait_in_a_row` bounds the waits of the run between two calls that went through
    without any: a server that keeps saying "wait" (a rate budget that never renews) ends the
    run with a one-line error instead of holding it for minutes.
    """

    def __init__(
        self,
        attempts: int = 4,
        max_total_wait: float = 60.0,
        base_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float, str], None] | None = None,
        max_wait_in_a_row: float = 120.0,
    ) -> None:
        self.attempts = attempts
        self.max_total_wait = max_total_wait
        self.max_wait_in_a_row = max_wait_in_a_row
        self.base_delay = base_delay
        self.sleep = sleep
        # Told the seconds left before each second of a wait, so a screen can count down.
        self.on_wait = on_wait
        self.waited_in_a_row = 0.0
        self._lock = threading.Lock()

    def backoff(self, attempt: int) -> float:
        # Exponential with full jitter: SP-API's 429s usually say nothing about when to retry.
        return random.uniform(0, self.base_delay * (2**attempt))

    def went_through(self) -> None:
        """A call was answered without waiting: the waits in a row start again from zero."""
        with self._lock:
            self.waited_in_a_row = 0.0

    def wait(self, seconds: float, reason: str) -> None:
        """Sleep `seconds`, in steps of at most one second when someone shows a countdown.

        `reason` reads "Service: why". RateLimited, before waiting at all, when the wait would
        take the waits in a row past `max_wait_in_a_row`.
        """
        with self._lock:
            if self.waited_in_a_row + seconds > self.max_wait_in_a_row:
                service, _sep, why = reason.partition(": ")
                raise RateLimited(
                    service if why else "cancelbot",
                    _("{why}: asked to wait {seconds} s more after {waited} s of waiting; "
                      "stopped, try again later").format(
                        why=why or reason, seconds=f"{seconds:.0f}",
                        waited=f"{self.waited_in_a_row:.0f}"),
                )
            self.waited_in_a_row += seconds
        if self.on_wait is None:
            self.sleep(seconds)
            return
        left = seconds
        while left > 0:
            self.on_wait(left, reason)
            step = min(1.0, left)
            self.sleep(step)
            left -= step
        self.on_wait(0.0, reason)


class RatePacer:
    """Slows a client down before a server's rate budget runs out, rather than after a 429.

    Freshdesk counts calls per account — every agent, every process — in a fixed window (a
    minute on current plans) and says on each answer what is left: `X-RateLimit-Total` and
    `X-RateLimit-Remaining`. No header says when the window renews, but it renews at the latest
    `window` seconds after the first answer seen in it, and Remaining jumping up shows that it
    did. So: while more than `reserve` calls are left, calls go at once (no waiting the budget
    does not require); at or below the reserve, a call waits until the window has renewed. Each
    call sent counts against the reading at once, so this machine's calls in flight are known;
    the reserve covers other machines' calls between two readings.

    The last reading is kept in `state_file`, so the next run (one process per ticket) starts
    from it rather than blind. `clock` is wall time (shared by processes); `clock` and `sleep`
    are injectable so tests do not wait.
    """

    MARGIN = 0.1  # seconds past the window's end, for the server's clock and the answer's trip

    def __init__(
        self,
        window: float,
        *,
        reserve: int | None = None,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if window <= 0:
            raise ValueError("a rate window lasts a positive number of seconds")
        self.window = window
        self._reserve = reserve
        self.state_file = state_file
        self.clock = clock
        self.sleep = sleep
        self.total: int | None = None
        self.reading: int | None = None  # the lowest Remaining the server gave in this window
        self.remaining: int | None = None  # that reading, less the calls sent since
        self.window_from = 0.0  # when the first answer of the current window was seen
        self.waited = 0.0  # seconds this pacer has made its client wait, in all
        self._lock = threading.Lock()
        self._warned = False  # a bad state file is reported once

    @property
    def reserve(self) -> int:
        if self._reserve is not None:
            return self._reserve
        # This machine's calls in flight are counted (see wait_turn); the reserve is for other
        # machines' calls between two readings: 1 %, at least one call.
        return max(1, (self.total or 0) // 100)

    def wait_turn(self) -> float:
        """Before a request: wait if the budget is (nearly) spent; the seconds waited."""
        waited = 0.0
        for _look in range(3):  # a wait ends past the window's end, so the second look lets it go
            with self._lock:
                self._load()
                delay = self._delay(self.clock())
                if delay <= 0:
                    if self.remaining is not None:
                        self.remaining -= 1  # this call, until the server's answer says better
                    self._save()
                    break
            log.debug("rate budget nearly spent: waiting %.1f s for the window to renew", delay)
            self.sleep(delay)
            waited += delay
        self.waited += waited
        return waited

    def observe(self, response: httpx.Response) -> None:
        """After each answer: take in the server's account of the budget."""
        total = _header_int(response, "X-RateLimit-Total")
        remaining = _header_int(response, "X-RateLimit-Remaining")
        if total is None or remaining is None:
            return
        with self._lock:
            self._load()
            now = self.clock()
            # Answers to calls made at once arrive in any order: only a jump well beyond that
            # shows a new window.
            renewed = (
                self.reading is None
                or self.remaining is None
                or now >= self.window_from + self.window
                or remaining > self.reading + max(self.reserve, total // 4)
            )
            if response.status_code == 429:
                # Refused: the window renews when Retry-After says, not earlier.
                after = retry_after_seconds(response)
                if after is not None:
                    self.window_from = now + min(after, self.window) - self.window
                self.reading = self.remaining = 0
            elif renewed:
                self.window_from = now
                self.reading = self.remaining = remaining
            else:
                # Same window: calls sent since (not yet counted by the server) still count.
                self.reading = remaining if self.reading is None else min(self.reading, remaining)
                self.remaining = remaining if self.remaining is None \
                    else min(self.remaining, remaining)
            self.total = total
            self._save()

    def _delay(self, now: float) -> float:
        ends = self.window_from + self.window
        if self.remaining is None or now >= ends or self.remaining > self.reserve:
            return 0.0
        return min(ends - now + self.MARGIN, self.window + self.MARGIN)

    def _load(self) -> None:
        """Take the state file's reading when it is newer than ours (another process's)."""
        if self.state_file is None:
            return
        found = self._read_state()
        if found is None:
            return
        total, reading, remaining, window_from = found
        if self.remaining is None or self.reading is None or window_from > self.window_from:
            self.total, self.window_from = total, window_from
            self.reading, self.remaining = reading, remaining
        elif window_from == self.window_from:  # the same window, seen by two processes
            self.reading = min(self.reading, reading)
            self.remaining = min(self.remaining, remaining)

    def _read_state(self) -> tuple[int, int, int, float] | None:
        """The file's reading when it makes sense; a bad one is ignored (and then replaced).

        The file is in cancelbot's own folder, but its content is still checked: a reading that
        would make a run wait longer than one window, or is not a reading at all, is not used.
        """
        from cancelbot import private
        from cancelbot.errors import StateError

        if self.state_file is None:
            return None
        try:
            raw = private.read_file(self.state_file, limit=4096)
            if raw is None:
                return None
            data = json.loads(raw)
        except (OSError, ValueError, RecursionError, StateError) as exc:
            return self._ignore(str(exc) if isinstance(exc, StateError) else type(exc).__name__)
        if not isinstance(data, dict):
            return self._ignore("not a rate reading")
        values = [v for v in (data.get(k) for k in ("total", "reading", "remaining"))
                  if type(v) is int]
        raw_from = data.get("window_from")
        if len(values) != 3 or isinstance(raw_from, bool) \
                or not isinstance(raw_from, (int, float)):
            return self._ignore("not a rate reading")
        total, reading, remaining = values
        window_from = float(raw_from)
        # Calls sent since the reading count against it (`remaining` may go below zero once the
        # window is over). A window cannot start in the future (1 s of slack for the clock):
        # the wait would outlast the window.
        limit = 1_000_000
        if not (0 <= total <= limit and 0 <= reading <= limit and -limit <= remaining <= reading
                and window_from == window_from and window_from <= self.clock() + 1.0):
            self._ignore("values out of range")
            return None
        return total, reading, remaining, float(window_from)

    def _ignore(self, why: str) -> tuple[int, int, int, float] | None:
        """Warn once that the reading is not used; None (no reading)."""
        if not self._warned:
            self._warned = True
            log.warning("cancelbot: ignoring the Freshdesk rate reading %s (%s)",
                        self.state_file, why)
        return None

    def _save(self) -> None:
        if self.state_file is None or self.remaining is None:
            return
        from cancelbot import private

        payload = json.dumps({"total": self.total, "reading": self.reading,
                              "remaining": self.remaining,
                              "window_from": self.window_from}).encode("utf-8")
        try:
            # Readers see the old reading or the new one; a link in its place is replaced.
            private.write_file(self.state_file, payload)
        except OSError as exc:
            log.debug("could not keep the rate state %s (%s)", self.state_file,
                      type(exc).__name__)


def _header_int(response: httpx.Response, name: str) -> int | None:
    # isdigit() is true for "²", which int() refuses: ASCII decimal digits only.
    value = response.headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 10 else None


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client of the run (tls.py): loading the CA bundle
    takes tens of milliseconds, paid once instead of once per client, and `process` starts it
    on a thread before it loads the clients."""
    from cancelbot import tls

    return tls.context()


class OwnsServiceClient:
    """`with` support for a client built on one ServiceClient kept as `self._http`."""

    _http: ServiceClient

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def use_retry(self, retry: RetryPolicy) -> None:
        """See `ServiceClient.use_retry`."""
        self._http.use_retry(retry)


class ServiceClient:
    """One httpx.Client for one service, with its failures turned into `ServiceError`s.

    Every answer is read as a stream and counted: one larger than `max_bytes`, or not complete
    `deadline` seconds after its request left, is refused with a one-line error. `clock` is
    injectable so tests need not wait.
    """

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
        pacer: RatePacer | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.retry = retry or RetryPolicy()
        self.pacer = pacer
        self.max_bytes = max_bytes
        self.deadline = deadline or max(DEFAULT_DEADLINE, 2 * (timeout.read or 0.0))
        self.clock = clock
        self._error_detail = error_detail or _default_error_detail
        self._client = httpx.Client(
            base_url=base_url,
            transport=transport,
            auth=auth,
            headers=headers,
            timeout=timeout,
            verify=shared_ssl_context() if transport is None else True,
            event_hooks={"request": [_mark_start], "response": [_log_response]},
        )

    def use_retry(self, retry: RetryPolicy) -> None:
        """Wait and retry as `retry` says from now on, the rate pacer's waits included (they
        count as the run's waits, and show in its countdown): for a client opened before the
        run's screen was (the ticket read at start-up, early.py)."""
        self.retry = retry
        if self.pacer is not None:
            reason = f"{self.service}: rate budget nearly spent"
            self.pacer.sleep = lambda seconds: retry.wait(seconds, reason)

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
        max_bytes: int | None = None,
        wait_on_429: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send, retrying only when repeating cannot apply a change twice.

        The answer comes back read in full (at most `max_bytes`, default the client's).

        GET/PUT/DELETE are retried on connection errors and 502/503/504. Every method is retried
        on 429 (the server refused it) — unless `wait_on_429` is False: then RateLimited at once,
        for a caller that has something better to do than wait — and on a failure to connect
        (nothing was sent). A POST that may have reached the server (read timeout, 5xx) is never
        repeated here: the caller re-checks the remote state instead.
        """
        idempotent = method.upper() in ("GET", "PUT", "DELETE", "HEAD")
        waited = 0.0  # this call's own waits (429s, retries), within retry.max_total_wait
        paced = False  # whether the rate pacer made it wait first
        what = what or f"{method} {url}"
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            if self.pacer is not None and self.pacer.wait_turn() > 0:
                paced = True
            try:
                response = self._send(method, url, what, max_bytes or self.max_bytes, kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # No connection, so nothing was sent: safe to repeat, even a POST.
                if not last:
                    waited += self._pause(self.retry.backoff(attempt), waited, _("cannot connect"))
                    continue
                raise Unreachable(self.service, _("cannot connect ({what})").format(
                    what=what)) from exc
            except httpx.TimeoutException as exc:
                if idempotent and not last:
                    waited += self._pause(self.retry.backoff(attempt), waited, _("timed out"))
                    continue
                raise Unreachable(self.service, _("timed out ({what})").format(
                    what=what)) from exc
            except httpx.TransportError as exc:
                if idempotent and not last:
                    waited += self._pause(self.retry.backoff(attempt), waited, _("connection lost"))
                    continue
                raise Unreachable(self.service, _("connection failed ({what})").format(
                    what=what)) from exc
            except (httpx.DecodingError, httpx.TooManyRedirects) as exc:
                raise BadResponse(self.service, _("{what}: the answer cannot be read").format(
                    what=what)) from exc
            if self.pacer is not None:
                self.pacer.observe(response)

            status = response.status_code
            if status in ok:
                if not waited and not paced:
                    self.retry.went_through()
                return response
            if status == 429 and wait_on_429 and not last:
                delay = retry_after_seconds(response)
                delay = self.retry.backoff(attempt) if delay is None else delay
                if waited + delay <= self.retry.max_total_wait:
                    waited += self._pause(delay, waited, _("rate limited"))
                    continue
            if status in RETRY_STATUSES and idempotent and not last:
                waited += self._pause(self.retry.backoff(attempt), waited, f"HTTP {status}")
                continue
            error = self.error_for(response, what)
            if status == 429 and waited:
                error = RateLimited(
                    self.service,
                    _("{what}: still rate limited after waiting {seconds} s; try again later"
                      ).format(what=what, seconds=f"{waited:.0f}"),
                    status=429, request_id=error.request_id,
                )
            raise error
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _send(
        self, method: str, url: str, what: str, max_bytes: int, kwargs: dict[str, Any]
    ) -> httpx.Response:
        """One request, its answer read in full within the size cap and the deadline."""
        request = self._client.build_request(method, url, **kwargs)
        ends = self.clock() + self.deadline
        response = self._headers_within_deadline(request, what)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isascii() and declared.isdecimal() and int(declared) > max_bytes:
                raise self._too_large(what, max_bytes)
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise self._too_large(what, max_bytes)
                if self.clock() > ends:
                    raise Unreachable(self.service, _("{what}: the answer was not complete after "
                                                      "{seconds} s; stopped").format(
                        what=what, seconds=f"{self.deadline:.0f}"))
                chunks.append(chunk)
        finally:
            response.close()
        # The body is already decoded (gzip…): the copy must not say it is still encoded.
        # Raw bytes: a header may hold any latin-1 byte, which str headers would not re-encode.
        headers = [(k, v) for k, v in response.headers.raw
                   if k.lower() not in (b"content-encoding", b"content-length",
                                        b"transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks),
                              request=request, extensions=response.extensions)

    def _headers_within_deadline(self, request: httpx.Request, what: str) -> httpx.Response:
        """`send(request, stream=True)`: the status line and headers, within the deadline.

        httpx's read timeout starts again with every byte, so headers dripping a byte at a
        time would hold the call for minutes: the request is sent from a worker thread, and
        this one waits at most the deadline for it (threads and events work the same on every
        platform; httpx has no public way to bound the wait for headers). A worker left
        behind ends at its read timeout or when the client closes; an answer it gets late is
        closed, so its connection goes back to the pool.
        """
        outcome: list[httpx.Response | BaseException] = []
        lock = threading.Lock()
        arrived = threading.Event()

        def send() -> None:
            try:
                result: httpx.Response | BaseException = self._client.send(request, stream=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below, as it was
                result = exc
            with lock:
                outcome.append(result)
                abandoned = arrived.is_set()
                arrived.set()
            if abandoned and isinstance(result, httpx.Response):
                result.close()

        worker = threading.Thread(target=send, name=f"cancelbot {self.service}", daemon=True)
        worker.start()
        ends = time.monotonic() + self.deadline
        # In slices: Ctrl-C is seen between two (a wait on Windows is not interrupted).
        while not arrived.wait(min(0.25, max(0.0, ends - time.monotonic()))) \
                and time.monotonic() < ends:
            pass
        with lock:
            if not outcome:
                arrived.set()  # from now on the worker closes what it gets
                raise Unreachable(self.service, _("{what}: the answer was not complete after "
                                                  "{seconds} s; stopped").format(
                    what=what, seconds=f"{self.deadline:.0f}"))
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _too_large(self, what: str, max_bytes: int) -> BadResponse:
        return BadResponse(self.service, _("{what}: the answer is larger than {size} MB; "
                                           "refused").format(what=what, size=f"{max_bytes / MB:g}"))

    def _pause(self, delay: float, waited: float, reason: str = "") -> float:
        """Wait `delay` seconds, never past the total budget; returns the seconds waited."""
        delay = max(0.0, min(delay, self.retry.max_total_wait - waited))
        if delay:
            self.retry.wait(delay, f"{self.service}: {reason}" if reason else self.service)
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


def hiding(secret: str, detail: Callable[[httpx.Response], str]):
    """An `error_detail` that never lets `secret` through, in any form (raw, base64 as in a
    Basic header, percent-encoded…), even if a server echoes it. Registers the secret, so
    every ServiceError message hides it too (text.hide_secrets)."""
    keep_secret(secret)

    def hidden(response: httpx.Response) -> str:
        return hide_secrets(detail(response))

    return hidden


def parse_json_object(service: str, response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadResponse(service, _("{what}: the answer is not valid JSON").format(
            what=what)) from exc
    if not isinstance(data, dict):
        raise BadResponse(service, _("{what}: expected a JSON object").format(what=what))
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


# When each request left, for --debug: httpx only knows `elapsed` once a response is closed,
# which the response hook runs before.
_started: weakref.WeakKeyDictionary[httpx.Request, float] = weakref.WeakKeyDictionary()
_started_lock = threading.Lock()


def _mark_start(request: httpx.Request) -> None:
    if log.isEnabledFor(logging.DEBUG):
        with _started_lock:
            _started[request] = time.perf_counter()


def _log_response(response: httpx.Response) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    request = response.request
    with _started_lock:
        started = _started.pop(request, None)
    elapsed = f" {(time.perf_counter() - started) * 1000:.0f} ms" if started is not None else ""
    # Headers and bodies are never logged, nor the query: a pre-signed upload URL carries its
    # signature there.
    url = request.url.copy_with(query=None, fragment=None)
    query = "?…" if request.url.query else ""
    log.debug("%s %s%s -> %s%s", request.method, url, query, response.status_code, elapsed)
