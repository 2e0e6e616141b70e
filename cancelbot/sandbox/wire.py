"""What the simulated services share: a tiny router and JSON request/response helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from cancelbot.sandbox.state import StateStore

Handler = Callable[..., httpx.Response]


class BadBody(ValueError):
    """The request body is not the JSON object the endpoint expects."""


class Router:
    """(method, path pattern) → handler; path groups become the handler's arguments."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._routes.append((method, re.compile(pattern + r"/?\Z"), handler))
            return handler

        return register

    def dispatch(
        self, request: httpx.Request, store: StateStore
    ) -> httpx.Response | None:
        """The handler's response, or None when no route matches (the caller says 404)."""
        for method, pattern, handler in self._routes:
            match = pattern.match(request.url.path)
            if match and request.method == method:
                return handler(request, store, *match.groups())
        return None


def json_response(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def json_object(request: httpx.Request) -> dict[str, Any]:
    """The request's JSON object body, or BadBody."""
    try:
        body = json.loads(request.content or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadBody("Request body has invalid json format") from exc
    if not isinstance(body, dict):
        raise BadBody("Request body must be a JSON object")
    return body


def is_json(request: httpx.Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == (
        "application/json"
    )

