"""Where the sandbox lives: its `.invalid` hosts and the credentials it checks."""

from __future__ import annotations

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
