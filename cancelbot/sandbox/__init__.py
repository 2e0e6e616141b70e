"""An embedded simulation of Freshdesk, GSTK and Amazon (LWA + SP-API) for `--sandbox` runs.

The real clients run unchanged: `sandbox_environment()` (hosts.py) points them at `.invalid`
hosts (nothing can reach the internet even if the transport were bypassed) and
`transport.SandboxTransport`, one `httpx.BaseTransport`, answers those hosts in each service's
wire format. The state lives in the sandbox world's folder,
`<home>/worlds/sandbox/sandbox.json`, so a second run sees the first run's effects.

Importing this package is cheap (no httpx): the transport lives in `sandbox.transport`.
"""

from __future__ import annotations

from cancelbot.errors import SandboxStateError
from cancelbot.sandbox.hosts import (
    FRESHDESK_API_KEY,
    FRESHDESK_HOST,
    GSTK_HOST,
    GSTK_TOKEN,
    LWA_CLIENT_ID,
    LWA_CLIENT_SECRET,
    LWA_HOST,
    SPAPI_HOST,
    SPAPI_REFRESH_TOKEN,
    SPAPI_SELLER_ID,
    UPLOAD_HOST,
    sandbox_environment,
)
from cancelbot.sandbox.state import list_tickets, load, reset, state_path

__all__ = [
    "FRESHDESK_API_KEY",
    "FRESHDESK_HOST",
    "GSTK_HOST",
    "GSTK_TOKEN",
    "LWA_CLIENT_ID",
    "LWA_CLIENT_SECRET",
    "LWA_HOST",
    "SPAPI_HOST",
    "SPAPI_REFRESH_TOKEN",
    "SPAPI_SELLER_ID",
    "UPLOAD_HOST",
    "SandboxStateError",
    "list_tickets",
    "load",
    "reset",
    "sandbox_environment",
    "state_path",
]
