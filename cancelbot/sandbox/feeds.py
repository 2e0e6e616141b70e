"""What Amazon does with a POST_ORDER_ACKNOWLEDGEMENT_DATA feed, and the report it writes.

Pure functions over the state dict: `process_acknowledgements` applies the feed's messages to
the sandbox's Amazon orders and returns the ProcessingReport XML that getFeedDocument serves.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Report:
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
