"""One httpx transport that answers every sandbox host, so the real clients run unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from cancelbot.sandbox import amazon, freshdesk, gstk
from cancelbot.sandbox.hosts import FRESHDESK_HOST, GSTK_HOST, LWA_HOST, SPAPI_HOST, UPLOAD_HOST
from cancelbot.sandbox.state import StateLockTimeout, StateStore
from cancelbot.sandbox.wire import json_response

Service = Callable[[httpx.Request, StateStore], httpx.Response]

SERVICES: dict[str, Service] = {
    FRESHDESK_HOST: freshdesk.handle,
    GSTK_HOST: gstk.handle,
    LWA_HOST: amazon.handle_lwa,
    SPAPI_HOST: amazon.handle_spapi,
    UPLOAD_HOST: amazon.handle_upload,
}


class SandboxTransport(httpx.BaseTransport):
    """Routes each request on its host to the simulated service; state in the sandbox world's
    folder of `home` (`state_path(home)`).

    `latency` (seconds) delays every answer, to see the CLI's progress display at work.
    `clock` and `feed_seconds` go to the state store: the simulated services' time, and how
    long Amazon takes over a feed (None: CANCELBOT_SANDBOX_FEED_SECONDS).
    """

    def __init__(
        self,
        home: Path,
        *,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        feed_seconds: float | None = None,
    ) -> None:
        self.store = StateStore(Path(home), clock=clock, feed_seconds=feed_seconds)
        self.latency = latency

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.latency > 0:
            time.sleep(self.latency)
        request.read()
        service = SERVICES.get(request.url.host)
        if service is None:
            return json_response(404, {"error": "not_found", "message": "unknown sandbox host"})
        try:
            return service(request, self.store)
        except StateLockTimeout as exc:
            # Looks like a slow server to the clients, which already know how to report it.
            raise httpx.ReadTimeout(str(exc), request=request) from exc

