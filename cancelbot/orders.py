"""Finding the Amazon order number in a ticket, and what the ticket says about the buyer.

Amazon order numbers are 3-7-7 digits (402-1234567-1234567). Buyers and mail clients mangle
them: unicode dashes, non-breaking spaces, HTML around the digits. We normalise those first.
"""

from __future__ import annotations

import html
import re

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
# Amazon's buyer-seller relay: replies to these addresses reach the buyer.
_RELAY = re.compile(r"@marketplace\.amazon\.([a-z.]+)$", re.IGNORECASE)


def normalize(text: str) -> str:
    """Entities decoded, tags dropped, odd dashes and spaces made plain."""
    text = text or ""
    if "<" in text:
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
    """An order number typed by the agent (dashes and spaces optional); UsageError if not one."""
    digits = re.sub(r"[\s-]", "", normalize(typed))
    if len(digits) == 17 and digits.isascii() and digits.isdigit():
        return f"{digits[:3]}-{digits[3:10]}-{digits[10:]}"
    raise UsageError(
        f"{typed.strip()[:40]!r} is not an Amazon order number (3-7-7 digits, "
        "e.g. 402-1234567-1234567)"
    )


def relay_domain(email: str) -> str | None:
    """'amazon.de' for 'abc@marketplace.amazon.de'; None when not Amazon's buyer relay."""
    match = _RELAY.search((email or "").strip())
    return f"amazon.{match.group(1).lower()}" if match else None
