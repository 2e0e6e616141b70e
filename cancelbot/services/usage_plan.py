"""An SP-API usage plan kept between processes: one token bucket per operation.

Amazon meters each operation with a token bucket: `burst` tokens at most, one more every
1/`rate` seconds, one spent per call; an empty bucket answers 429. searchOrders allows a burst
of 20 and then about one call every three minutes (0.0056 per second), for the whole seller
account: `cancelbot queue` in two windows, or a watching shift left open all day, must share it.
So the bucket's level is kept in a state file in the world's folder (like Freshdesk's budget,
services/http.py `RatePacer`), updated under a lock, and a caller *asks* before calling rather
than waiting minutes inside a request.

`clock` is wall time (shared by processes) and injectable, so tests do not wait.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from cancelbot import locks
from cancelbot.errors import StateError

log = logging.getLogger("cancelbot.amazon")

SEARCH_ORDERS_RATE = 0.0056  # requests per second: Orders 2026-01-01 searchOrders usage plan
SEARCH_ORDERS_BURST = 20
LOCK_WAIT = 2.0  # seconds to wait for another process's update of the state file


class TokenBucket:
    """One operation's usage plan; `take()` before each call, `observe()` after its answer."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a usage plan has a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.state_file = state_file
        self.clock = clock
        self.tokens = float(burst)  # a fresh account, as far as this machine knows
        self.at = clock()
        self._lock = threading.Lock()

    def ready_in(self) -> float:
        """Seconds until a call may go (0.0: now), without taking anything."""
        with self._updating(save=False):
            return self._wait(self.clock())

    def take(self) -> float:
        """Take a token if there is one: 0.0. Otherwise nothing is taken and the seconds until
        there is one are returned."""
        with self._updating():
            wait = self._wait(self.clock())
            if wait <= 0:
                self.tokens -= 1.0
            return wait

    def observe(self, response: httpx.Response) -> None:
        """A 429 empties the bucket (Amazon's count, not ours, is the truth); a rate announced
        in `x-amzn-RateLimit-Limit` replaces the default."""
        announced = _rate(response.headers.get("x-amzn-RateLimit-Limit", ""))
        if response.status_code != 429 and announced is None:
            return
        with self._updating():
            if announced is not None:
                self.rate = announced
            if response.status_code == 429:
                self.tokens = 0.0

    # -- the level, shared through the state file ------------------------------------------------

    def _wait(self, now: float) -> float:
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = max(self.at, now)  # a clock stepping back gives nothing back

    @contextmanager
    def _updating(self, *, save: bool = True) -> Iterator[None]:
        with self._lock, self._file_lock():
            self._load()
            yield
            if save:
                self._save()

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self.state_file is None:
            yield
            return
        lock = self.state_file.with_name(self.state_file.name + ".lock")
        deadline = time.monotonic() + LOCK_WAIT
        got = False
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            while not (got := locks.try_lock(lock, 0)) and time.monotonic() < deadline:
                time.sleep(0.02)
        except (OSError, StateError) as exc:  # unwritable, or a link: paced by this one alone
            log.debug("no lock for the usage plan %s (%s)", lock, type(exc).__name__)
        try:
            yield
        finally:
            if got:
                locks.unlock(lock, 0)

    def _load(self) -> None:
        if self.state_file is None:
            return
        from cancelbot import private

        try:  # never through a link; a file of another shape or size is not a level
            raw = private.read_file(self.state_file, limit=4096)
            if raw is None:
                return
            data = json.loads(raw)
            tokens, at = float(data["tokens"]), float(data["at"])
        except (OSError, ValueError, TypeError, KeyError, RecursionError, StateError) as exc:
            log.debug("ignoring the usage plan state %s (%s)", self.state_file,
                      type(exc).__name__)
            return
        if not (tokens == tokens and at == at and at <= self.clock() + 1.0):
            return  # NaN, or a level from the future: ignored
        self.tokens, self.at = min(max(tokens, 0.0), float(self.burst)), at

    def _save(self) -> None:
        if self.state_file is None:
            return
        from cancelbot import private

        try:  # owner-only, replaced at once; a link in its place is replaced
            private.write_file(self.state_file,
                               json.dumps({"tokens": self.tokens, "at": self.at}).encode())
        except (OSError, StateError) as exc:
            log.debug("could not keep the usage plan %s (%s)", self.state_file,
                      type(exc).__name__)


def _rate(value: str) -> float | None:
    try:
        rate = float(value.strip())
    except ValueError:
        return None
    return rate if rate > 0 else None
