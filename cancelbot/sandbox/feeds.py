"""What Amazon does with a POST_ORDER_ACKNOWLEDGEMENT_DATA feed, when, and the report it writes.

Pure functions over the state dict. A feed Amazon accepts (createFeed 202) waits IN_QUEUE,
then is IN_PROGRESS, and is processed `seconds` after it was created, as Amazon's take
minutes: `queue_feed` records it with its times, `advance_feeds` moves every feed on to where
a given moment puts it. Processing (`process_acknowledgements`) applies the feed's messages to
the sandbox's Amazon orders and leaves the ProcessingReport XML that getFeedDocument serves.
Times are seconds since the epoch kept in the state, so any process sees a feed progress.

An order seeded with `late_refusal` has its shipment confirmed while its feed waits: the feed
is accepted, and its report refuses the cancellation.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Any

from msgspec import Struct, field

from cancelbot.sandbox.hosts import SPAPI_SELLER_ID

# Values the OrderAcknowledgement schema accepts for CancelReason.
CANCEL_REASONS = {
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
}
NOT_CANCELLABLE = {"SHIPPED", "PARTIALLY_SHIPPED"}

# Result codes of the sandbox's own (Amazon's numeric codes are not reproduced).
UNKNOWN_ORDER = "90001"
ALREADY_SHIPPED = "90002"
UNKNOWN_ITEM = "90003"
INVALID_MESSAGE = "90004"


class Report(Struct):
    processed: int = 0
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, code, text, order
    fatal: str = ""

    @property
    def processing_status(self) -> str:
        return "FATAL" if self.fatal else "DONE"


def process_acknowledgements(
    orders: dict[str, Any], xml_text: str, at: str
) -> Report:
    """Apply each Message to `orders` (state["amazon"]["orders"]); one message fails alone."""
    report = Report()
    try:
        root = ET.fromstring(xml_text.encode("utf-8"))
    except ET.ParseError as exc:
        report.fatal = f"The feed is not well-formed XML: {exc}"
        return report
    if _local(root.tag) != "AmazonEnvelope" or _text(root, "MessageType") != (
        "OrderAcknowledgement"
    ):
        report.fatal = "Expected an AmazonEnvelope with MessageType OrderAcknowledgement"
        return report
    for message in _children(root, "Message"):
        report.processed += 1
        message_id = _text(message, "MessageID") or str(report.processed)
        ack = _child(message, "OrderAcknowledgement")
        order_id = _text(ack, "AmazonOrderID") if ack is not None else ""
        problem = _apply(orders, ack, at) if ack is not None else (
            INVALID_MESSAGE, "The message has no OrderAcknowledgement"
        )
        if problem:
            report.errors.append((message_id, *problem, order_id))
    return report


def _apply(orders: dict[str, Any], ack: ET.Element, at: str) -> tuple[str, str] | None:
    """Apply one acknowledgement; (code, description) when it cannot be applied."""
    order_id = _text(ack, "AmazonOrderID")
    status_code = _text(ack, "StatusCode")
    entry = orders.get(order_id)
    if entry is None:
        return UNKNOWN_ORDER, f"Order {order_id!r} was not found for this seller"
    if status_code not in ("Success", "Failure"):
        return INVALID_MESSAGE, "StatusCode must be Success or Failure"
    order = entry["order"]
    fulfillment = order["fulfillment"]
    if status_code == "Success" or fulfillment["fulfillmentStatus"] == "CANCELLED":
        return None  # an acknowledgement, or a repeat of a cancellation already done
    if fulfillment["fulfillmentStatus"] in NOT_CANCELLABLE:
        return ALREADY_SHIPPED, f"Order {order_id} has shipped and can no longer be cancelled"

    items = {item["orderItemId"]: item for item in order["orderItems"]}
    requested = [
        (_text(node, "AmazonOrderItemCode"), _text(node, "CancelReason"))
        for node in _children(ack, "Item")
    ]
    for code, reason in requested:
        if code not in items:
            return UNKNOWN_ITEM, f"Item {code!r} is not part of order {order_id}"
        if reason not in CANCEL_REASONS:
            return INVALID_MESSAGE, f"Invalid CancelReason {reason!r} for item {code}"
    # No Item element: the whole order is cancelled.
    for code, reason in requested or [(item_id, "") for item_id in items]:
        cancellation = items[code].setdefault("cancellation", {})
        cancellation["cancellationExecution"] = {"cancelledBy": "MERCHANT", "cancelReason": reason}
    if all("cancellationExecution" in i.get("cancellation", {}) for i in items.values()):
        fulfillment["fulfillmentStatus"] = "CANCELLED"
    order["lastUpdatedTime"] = at
    return None


def processing_report(report: Report, feed_id: str, seller_id: str) -> str:
    """The ProcessingReport document Amazon leaves as the feed's result."""
    root = ET.Element("AmazonEnvelope")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(root, "MessageType").text = "ProcessingReport"
    message = ET.SubElement(root, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    body = ET.SubElement(message, "ProcessingReport")
    ET.SubElement(body, "DocumentTransactionID").text = feed_id
    ET.SubElement(body, "StatusCode").text = "Complete"
    summary = ET.SubElement(body, "ProcessingSummary")
    failed = len(report.errors) + (1 if report.fatal else 0)
    for name, value in (
        ("MessagesProcessed", report.processed),
        ("MessagesSuccessful", report.processed - len(report.errors)),
        ("MessagesWithError", failed),
        ("MessagesWithWarning", 0),
    ):
        ET.SubElement(summary, name).text = str(value)
    results = list(report.errors)
    if report.fatal:
        results.append(("0", INVALID_MESSAGE, report.fatal, ""))
    for message_id, code, description, order_id in results:
        result = ET.SubElement(body, "Result")
        ET.SubElement(result, "MessageID").text = message_id
        ET.SubElement(result, "ResultCode").text = "Error"
        ET.SubElement(result, "ResultMessageCode").text = code
        ET.SubElement(result, "ResultDescription").text = description
        if order_id:
            info = ET.SubElement(result, "AdditionalInfo")
            ET.SubElement(info, "AmazonOrderID").text = order_id
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


# -- Amazon's queue ------------------------------------------------------------------------------

QUEUED_SHARE = 0.2  # the first fifth of a feed's time is spent IN_QUEUE, the rest IN_PROGRESS


def queue_feed(
    state: dict[str, Any], feed: dict[str, Any], document_id: str, now: float, seconds: float
) -> None:
    """Record an accepted feed (`feed`: feedId, feedType, marketplaceIds), processed `seconds`
    from `now`; one with no time to wait is processed at once."""
    amazon = state["amazon"]
    feed = {**feed, "createdTime": iso(now), "processingStatus": "IN_QUEUE"}
    amazon["feeds"][feed["feedId"]] = feed
    amazon.setdefault("feed_queue", {})[feed["feedId"]] = {
        "document": document_id,
        "starts": now + seconds * QUEUED_SHARE,
        "due": now + seconds,
    }
    advance_feeds(state, now)


def feed_changes_due(state: dict[str, Any], now: float) -> bool:
    """Whether some feed is not yet where `now` puts it (`advance_feeds` would change it)."""
    feeds = state["amazon"]["feeds"]
    return any(_status_at(entry, now) != feeds[feed_id]["processingStatus"]
               for feed_id, entry in (state["amazon"].get("feed_queue") or {}).items())


def advance_feeds(state: dict[str, Any], now: float) -> bool:
    """Move every queued feed on to its status at `now`, processing those whose time has come
    (oldest first, each at its due time); whether anything changed."""
    amazon = state["amazon"]
    queue = amazon.get("feed_queue") or {}
    changed = False
    for feed_id, entry in sorted(queue.items(), key=lambda item: item[1]["due"]):
        feed = amazon["feeds"][feed_id]
        status = _status_at(entry, now)
        if status == feed["processingStatus"]:
            continue
        changed = True
        if status == "IN_PROGRESS":
            feed.update(processingStatus=status, processingStartTime=iso(entry["starts"]))
            continue
        _process(amazon, feed, entry)
        del queue[feed_id]
    return changed


def _status_at(entry: dict[str, Any], now: float) -> str:
    if now >= entry["due"]:
        return "DONE"  # or FATAL: known once processed
    return "IN_PROGRESS" if now >= entry["starts"] else "IN_QUEUE"


def _process(amazon: dict[str, Any], feed: dict[str, Any], entry: dict[str, Any]) -> None:
    at = iso(entry["due"])
    document = amazon["documents"][entry["document"]]
    orders = amazon["orders"]
    for order_id in _order_ids(document["content"]):
        if orders.get(order_id, {}).get("late_refusal"):
            # The warehouse's carrier scan reached Amazon while the feed waited in its queue.
            fulfillment = orders[order_id]["order"]["fulfillment"]
            if fulfillment["fulfillmentStatus"] != "CANCELLED":
                fulfillment["fulfillmentStatus"] = "SHIPPED"
    report = process_acknowledgements(orders, document["content"], at)
    result_id = str(uuid.uuid4())
    amazon["documents"][result_id] = {
        "kind": "result",
        "contentType": "text/xml; charset=UTF-8",
        "content": processing_report(report, feed["feedId"], SPAPI_SELLER_ID),
        "createdTime": at,
    }
    feed.update(
        processingStatus=report.processing_status,
        processingStartTime=iso(entry["starts"]),
        processingEndTime=at,
        resultFeedDocumentId=result_id,
    )


def _order_ids(xml_text: str) -> list[str]:
    try:
        root = ET.fromstring(xml_text.encode("utf-8"))
    except ET.ParseError:
        return []
    return [_text(ack, "AmazonOrderID") for message in _children(root, "Message")
            if (ack := _child(message, "OrderAcknowledgement")) is not None]


def iso(moment: float) -> str:
    """Seconds since the epoch as SP-API writes times: UTC, to the second, with a Z."""
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(tag: str) -> str:
    # Tolerate a namespaced envelope: match on local names only.
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _child(node: ET.Element, name: str) -> ET.Element | None:
    found = _children(node, name)
    return found[0] if found else None


def _text(node: ET.Element, name: str) -> str:
    child = _child(node, name)
    return (child.text or "").strip() if child is not None else ""
