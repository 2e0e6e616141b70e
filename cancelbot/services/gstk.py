"""GSTK, the internal back office: find the order behind an Amazon order id, and cancel it.

GSTK has no public API; cancelbot defines the small contract it speaks (docs/gstk-api.md).
Auth is a bearer token. Status labels are GSTK's own words, mapped through a `StatusTable`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from msgspec import structs

from cancelbot.config import GstkSettings
from cancelbot.errors import BadResponse, NeedsHuman, OrderMovedOn
from cancelbot.models import BackOfficeOrder
from cancelbot.services.http import (
    DEFAULT_TIMEOUT,
    MB,
    OwnsServiceClient,
    RetryPolicy,
    ServiceClient,
    check_base_url,
    hiding,
    parse_json_object,
)
from cancelbot.statuses import StatusTable
from cancelbot.text import has_controls, visible

SERVICE = "GSTK"
CANCEL_REASON = "customer_request"
MAX_ANSWER_BYTES = 2 * MB  # a few orders as JSON: anything larger is not GSTK's answer


class GstkClient(OwnsServiceClient):
    """The automated `BackOffice`: GSTK's HTTP API."""

    automated = True

    def __init__(
        self,
        settings: GstkSettings,
        *,
        status_table: StatusTable | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> None:
        base = check_base_url("GSTK_URL", settings.url)
        self._order_link = settings.order_link
        self._statuses = status_table or StatusTable.from_config(settings.status_map)
        token = settings.token
        self._http = ServiceClient(
            SERVICE,
            base,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            error_detail=hiding(token, _error_detail),
            max_bytes=MAX_ANSWER_BYTES,
        )

    def order_url(self, order_id: str) -> str:
        """The order's page in GSTK's web interface, or "" when GSTK_ORDER_LINK is not set."""
        if not self._order_link:
            return ""
        # replace, not str.format: a stray brace elsewhere in the link must not break it.
        return self._order_link.replace("{order_id}", quote(order_id, safe=""))

    def find_order(self, marketplace_order_id: str) -> BackOfficeOrder | None:
        """The one GSTK order for this Amazon order id; None when GSTK has none.

        Raises NeedsHuman when GSTK holds several: choosing one to cancel is not the tool's call.
        """
        what = f"look up Amazon order {marketplace_order_id}"
        data = self._http.json(
            "GET", "/orders", params={"marketplace_order_id": marketplace_order_id}, what=what
        )
        raw = data.get("orders")
        if not isinstance(raw, list):
            raise BadResponse(SERVICE, f"{what}: field 'orders' missing or not a list")
        orders = [self._parse_order(item, f"{what}: orders[{i}]") for i, item in enumerate(raw)]
        # The filter is an exact match by contract; should GSTK ever search more loosely, an
        # order for another Amazon id must never be the one cancelled.
        orders = [o for o in orders if o.marketplace_order_id == marketplace_order_id]
        if not orders:
            return None
        if len(orders) > 1:
            ids = ", ".join(o.id for o in orders)
            raise NeedsHuman(
                f"GSTK has {len(orders)} orders for Amazon order {marketplace_order_id} "
                f"({ids}): check them in GSTK and cancel the right one by hand"
            )
        return orders[0]

    def cancel(self, order: BackOfficeOrder, comment: str) -> BackOfficeOrder:
        """Cancel in GSTK; raises OrderMovedOn when GSTK says it is too late (409)."""
        what = f"cancel order {order.id}"
        response = self._http.request(
            "POST",
            f"/orders/{_path_segment(order.id)}/cancel",
            ok=(200, 409),
            what=what,
            json={"reason": CANCEL_REASON, "comment": comment},
        )
        data = parse_json_object(SERVICE, response, what)
        if response.status_code == 409:
            label = data.get("status")
            if data.get("error") != "not_cancellable" or not isinstance(label, str):
                raise BadResponse(
                    SERVICE, f"{what}: a 409 answer without error 'not_cancellable' and a status"
                )
            raise OrderMovedOn(visible(label))

        returned_id = data.get("id")
        if returned_id != order.id:
            raise BadResponse(SERVICE, f"{what}: the answer is about order {returned_id!r}")
        label = visible(_require_str(data, "status", what))
        updated_at = data.get("updated_at")
        return structs.replace(
            order,
            label=label,
            status=self._statuses.lookup(label),
            updated_at=visible(updated_at) if isinstance(updated_at, str) else order.updated_at,
            url=order.url or self.order_url(order.id),
        )

    def _parse_order(self, item: Any, where: str) -> BackOfficeOrder:
        if not isinstance(item, dict):
            raise BadResponse(SERVICE, f"{where}: not an object")
        order_id = _require_id(item, "id", where)
        label = visible(_require_str(item, "status", where))
        updated_at = item.get("updated_at")
        return BackOfficeOrder(
            id=order_id,
            marketplace_order_id=_require_id(item, "marketplace_order_id", where),
            label=label,
            status=self._statuses.lookup(label),
            updated_at=visible(updated_at) if isinstance(updated_at, str) else "",
            url=self.order_url(order_id),
        )


def _path_segment(value: str) -> str:
    """`value` as one URL path segment: a "/" in an id must not reach another endpoint."""
    if not value:
        raise ValueError("a GSTK order id cannot be empty")
    segment = quote(value, safe="")
    # quote() leaves dots alone, and httpx resolves "." and ".." segments away.
    if set(value) == {"."}:
        segment = "%2E" * len(value)
    return segment


def _require_str(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadResponse(SERVICE, f"{where}: field {key!r} missing or not text")
    return value


def _require_id(data: dict[str, Any], key: str, where: str) -> str:
    """An identifier: shown, put in URLs and compared, so refused when it holds a control
    character rather than shown altered (the order cancelled must be the one shown)."""
    value = _require_str(data, key, where)
    if has_controls(value):
        raise BadResponse(SERVICE, f"{where}: field {key!r} holds a control character")
    return value


def _error_detail(response: httpx.Response) -> str:
    if response.status_code == 401:
        return "token refused — check GSTK_TOKEN"
    if response.status_code == 403:
        return "this token may not read or cancel orders"
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error, message = data.get("error"), data.get("message")
    parts = [p for p in (error, message) if isinstance(p, str) and p.strip()]
    return ": ".join(parts)
