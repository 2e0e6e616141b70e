"""Finding the Amazon order number in a ticket, and what the ticket says about the buyer.

Amazon order numbers are 3-7-7 digits (402-1234567-1234567). Buyers and mail clients mangle
them: unicode dashes, non-breaking spaces, HTML around the digits. We normalise those first.
"""

from __future__ import annotations

import html
import re

from cancelbot import marketplaces
from cancelbot.errors import UsageError

# Every dash a mail client or a keyboard may produce in place of "-".
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad"
_SPACES = "\u00a0\u2007\u2009\u200a\u202f\u205f\u3000\u200b"
_TRANSLATE = {**{ord(c): "-" for c in _DASHES}, **{ord(c): " " for c in _SPACES}}
_ODD = re.compile(f"[{_DASHES}{_SPACES}]")  # translate is slow per char: only when needed
# Ticket text is a stranger's: every pattern here runs in time linear in it. A tag stops at the
# next "<" (from each "<" the scan ends at the following one), and the digits come first so the
# search skips everything else quickly; the look-behind then checks what precedes them.
_TAG = re.compile(r"<[^<>]{0,500}>")
_ORDER = re.compile(
    r"([0-9]{3})(?<![0-9-][0-9]{3}) ?- ?([0-9]{7}) ?- ?([0-9]{7})(?![0-9-]*[0-9])"
)
# sellercentral.amazon.fr, sellercentral.amazon.co.uk, sellercentral-europe.amazon.com, ...
_SELLER_CENTRAL_HOST = re.compile(r"sellercentral(?:-[a-z]+)?\.amazon\.[a-z]{2,3}(?:\.[a-z]{2})?")
# Amazon's buyer-seller relay: replies to …@marketplace.<storefront> reach the buyer.
RELAY_PREFIX = "marketplace."


def normalize(text: str) -> str:
    """Entities decoded, tags dropped, odd dashes and spaces made plain."""
    text = text or ""
    if "<" in text and ">" in text:  # no tag without both (ten million "<" cost 0.3 s)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text.translate(_TRANSLATE) if _ODD.search(text) else text


def find_order_numbers(*texts: str) -> list[str]:
    """Distinct order numbers, in the order they first appear across `texts`."""
    found: list[str] = []
    for text in texts:
        for match in _ORDER.finditer(normalize(text)):
            number = "-".join(match.groups())
            if number not in found:
                found.append(number)
    return found


def parse_order_number(typed: str) -> str:
    """An order number as agents paste it; UsageError if it is not one.

    Accepted: the 3-7-7 digits with dashes (any unicode dash), spaces or nothing between the
    groups, a leading "#", spaces around, or a Seller Central link to the order
    (`.../orders-v3/order/<number>`, `...?orderId=<number>`).
    """
    text = typed.strip()
    if text.startswith("<") and text.endswith(">"):  # mail clients wrap pasted links so
        text = text[1:-1]
    text = normalize(text).strip()
    if "://" in text or text.lower().startswith("sellercentral"):
        return _from_seller_central_link(text, typed)
    number = _digits_3_7_7(text.removeprefix("#"))
    if number:
        return number
    raise UsageError(
        f"{typed.strip()[:40]!r} is not an Amazon order number (3-7-7 digits, "
        "e.g. 402-1234567-1234567, or its Seller Central link)"
    )


def _from_seller_central_link(text: str, typed: str) -> str:
    """The order number a Seller Central link names: its `orderId` query parameter, or the
    path segment after `order` (orders-v3/order/402-…)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    shown = typed.strip()[:80]
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed "[" in the host
        host, parts = "", None
    if parts is None or not _SELLER_CENTRAL_HOST.fullmatch(host):
        raise UsageError(f"{shown!r} is not a Seller Central link: paste the order number "
                         "(e.g. 402-1234567-1234567) or the order's Seller Central page")
    candidates = [value for key, value in parse_qsl(parts.query) if key.lower() == "orderid"]
    segments = [unquote(s) for s in parts.path.split("/")]
    candidates += [segments[i + 1] for i, s in enumerate(segments[:-1]) if s == "order"]
    found = {number for c in candidates if (number := _digits_3_7_7(normalize(c))) is not None}
    if len(found) == 1:
        return found.pop()
    if found:
        raise UsageError(f"{shown!r} names two different orders: paste the order number")
    raise UsageError(f"no Amazon order number in the Seller Central link {shown!r}")


def _digits_3_7_7(text: str) -> str | None:
    """The number as 402-1234567-1234567, when `text` is 17 digits with dashes, spaces or
    nothing between them; else None."""
    digits = re.sub(r"[\s-]", "", text)
    if len(digits) == 17 and digits.isascii() and digits.isdigit():
        return f"{digits[:3]}-{digits[3:10]}-{digits[10:]}"
    return None


def email_domain(email: str) -> str:
    """The domain of an address, lower case ("" when it is not one address)."""
    local, at, domain = (email or "").strip().lower().rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>,;@" for c in domain):
        return ""
    return domain.rstrip(".")


def relay_domain(email: str) -> str | None:
    """'amazon.de' for 'abc@marketplace.amazon.de'; None when not Amazon's buyer relay.

    Exact: the domain after "marketplace." is one of Amazon's storefronts
    (marketplaces.py), nothing appended — `x@marketplace.amazon.fr.evil.example` is not it."""
    domain = email_domain(email)
    if not domain.startswith(RELAY_PREFIX):
        return None
    storefront = domain[len(RELAY_PREFIX):]
    return storefront if marketplaces.marketplace_for_domain(storefront) and \
        not storefront.startswith("www.") else None


def amazon_sender_domain(email: str) -> str | None:
    """'amazon.fr' for Amazon's own notifications (donotreply@amazon.fr); else None. Exact:
    the address's domain is one of Amazon's storefronts, nothing before or after it."""
    domain = email_domain(email)
    return domain if marketplaces.marketplace_for_domain(domain) and \
        not domain.startswith("www.") else None
