"""An embedded simulation of Freshdesk, GSTK and Amazon (LWA + SP-API) for `--sandbox` runs.

The real clients run unchanged: `sandbox_environment()` points them at `.invalid` hosts (nothing
can reach the internet even if the transport were bypassed) and `SandboxTransport`, one
`httpx.BaseTransport`, answers those hosts in each service's wire format. The state lives in
`<home>/sandbox.json`, so a second run sees the first run's effects.

Importing this package is cheap (no httpx): the transport is loaded on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cancelbot.sandbox.state import SandboxStateError, list_tickets, load, reset, state_path

if TYPE_CHECKING:
    from cancelbot.sandbox.transport import SandboxTransport

FRESHDESK_HOST = "sandbox.freshdesk.invalid"
GSTK_HOST = "gstk.sandbox.invalid"
LWA_HOST = "lwa.sandbox.invalid"
SPAPI_HOST = "spapi.sandbox.invalid"
UPLOAD_HOST = "feeds-upload.sandbox.invalid"  # where feed documents go (S3 in production)

# Sandbox credentials: the simulation checks them the way the real services would.
FRESHDESK_API_KEY = "sandbox-key"
GSTK_TOKEN = "sandbox-token"
LWA_CLIENT_ID = "amzn1.application-oa2-client.sandbox"
LWA_CLIENT_SECRET = "sandbox-client-secret"
SPAPI_REFRESH_TOKEN = "Atzr|sandbox-refresh-token"
SPAPI_SELLER_ID = "SANDBOXSELLER"


def sandbox_environment() -> dict[str, str]:
    """The variables that point every client at the sandbox hosts."""
    return {
        "FRESHDESK_URL": f"https://{FRESHDESK_HOST}",
        "FRESHDESK_API_KEY": FRESHDESK_API_KEY,
        "GSTK_URL": f"https://{GSTK_HOST}/api",
        "GSTK_TOKEN": GSTK_TOKEN,
        "GSTK_ORDER_LINK": f"https://{GSTK_HOST}/orders/{{order_id}}",
        "LWA_TOKEN_URL": f"https://{LWA_HOST}/auth/o2/token",
        "SPAPI_ENDPOINT": f"https://{SPAPI_HOST}",
        "LWA_CLIENT_ID": LWA_CLIENT_ID,
        "LWA_CLIENT_SECRET": LWA_CLIENT_SECRET,
        "SPAPI_REFRESH_TOKEN": SPAPI_REFRESH_TOKEN,
        "SPAPI_SELLER_ID": SPAPI_SELLER_ID,
    }


def make_transport(
    home: Path, *, latency: float = 0.0, feed_seconds: float | None = None
) -> SandboxTransport:
    """The transport to hand to every client of a sandbox run."""
    from cancelbot.sandbox.transport import SandboxTransport

    return SandboxTransport(home, latency=latency, feed_seconds=feed_seconds)


def __getattr__(name: str) -> Any:
    # `from cancelbot.sandbox import SandboxTransport` works without importing httpx eagerly.
    if name == "SandboxTransport":
        from cancelbot.sandbox.transport import SandboxTransport

        return SandboxTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SandboxStateError",
    "SandboxTransport",
    "list_tickets",
    "load",
    "make_transport",
    "reset",
    "sandbox_environment",
    "state_path",
]
