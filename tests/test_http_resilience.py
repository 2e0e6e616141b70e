"""One resilience mechanism for the three services (issue 3 §4), on ServiceClient directly."""

from __future__ import annotations

import httpx
import pytest

from cancelbot.errors import RateLimited, ServiceError, Unreachable
from cancelbot.services.http import RetryPolicy, ServiceClient


class Script:
    """Answers each request with the next item (a response, or an exception to raise)."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.method)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(script: Script, **retry) -> tuple[ServiceClient, list[float], list[tuple[float, str]]]:
    slept: list[float] = []
    waits: list[tuple[float, str]] = []
    policy = RetryPolicy(sleep=slept.append, on_wait=lambda s, r: waits.append((s, r)), **retry)
    return (ServiceClient("Amazon", "https://api.example.com", transport=httpx.MockTransport(
        script), retry=policy), slept, waits)


def ended(waits: list[tuple[float, str]]) -> int:
    """How many waits a countdown showed (each ends by telling 0 seconds left)."""
    return sum(1 for seconds, _ in waits if seconds == 0)


def ok() -> httpx.Response:
    return httpx.Response(200, json={})


def test_a_rate_limit_wait_is_shown_as_a_countdown() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "3"}), ok())
    http, slept, waits = client(script)
    assert http.request("POST", "/feeds").status_code == 200
    assert slept == [1.0, 1.0, 1.0]
    assert [s for s, _ in waits] == [3.0, 2.0, 1.0, 0.0]
    assert all(reason == "Amazon: rate limited" for _, reason in waits)


def test_a_wait_longer_than_the_budget_is_a_clear_error_at_once() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "120"}))
    http, slept, _ = client(script, max_total_wait=60)
    with pytest.raises(RateLimited, match="rate limit"):
        http.request("GET", "/orders/1")
    assert slept == [] and script.seen == ["GET"]


def test_a_429_storm_waits_at_most_the_budget_then_says_so() -> None:
    script = Script(*[httpx.Response(429, headers={"Retry-After": "20"})] * 5)
    http, slept, _ = client(script, attempts=5, max_total_wait=50)
    with pytest.raises(RateLimited, match="still rate limited after waiting 40 s"):
        http.request("GET", "/orders/1")
    assert sum(slept) == 40 <= 50


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_reads_and_puts_are_retried_on_503_and_lost_connections(method: str) -> None:
    script = Script(httpx.Response(503), httpx.ReadTimeout("lost"),
                    httpx.RemoteProtocolError("reset"), ok())
    http, _, waits = client(script)
    assert http.request(method, "/x").status_code == 200
    assert script.seen == [method] * 4 and ended(waits) == 3


@pytest.mark.parametrize("failure", [
    httpx.Response(503), httpx.Response(502), httpx.ReadTimeout("answer lost"),
    httpx.RemoteProtocolError("reset after sending"),
])
def test_a_post_that_may_have_applied_is_never_repeated(failure) -> None:
    script = Script(failure, ok())
    http, slept, _ = client(script)
    with pytest.raises(ServiceError):
        http.request("POST", "/orders/GS-1/cancel")
    assert script.seen == ["POST"], "sent once: the caller re-checks instead"
    assert slept == []


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"),
                                     httpx.ConnectTimeout("no route")])
def test_a_post_that_never_left_is_retried(failure) -> None:
    script = Script(failure, ok())
    http, _, _ = client(script)
    assert http.request("POST", "/notes").status_code == 200
    assert script.seen == ["POST", "POST"]


def test_a_503_storm_ends_with_an_error_naming_the_service() -> None:
    script = Script(*[httpx.Response(503)] * 4)
    http, slept, waits = client(script)
    with pytest.raises(ServiceError, match=r"^Amazon: .*\(HTTP 503\)"):
        http.request("GET", "/orders/1", what="getOrder 1")
    assert len(script.seen) == 4 and ended(waits) == 3
    assert [r for s, r in waits if s == 0] == ["Amazon: HTTP 503"] * 3
    assert sum(slept) <= 60


def test_an_unreachable_service_is_one_line() -> None:
    script = Script(*[httpx.ConnectError("refused")] * 4)
    http, _, _ = client(script)
    with pytest.raises(Unreachable, match=r"^Amazon: cannot connect \(getOrder 1\)$"):
        http.request("GET", "/orders/1", what="getOrder 1")
