"""Amazon marketplaces: the storefront domain, Seller Central host and reply language of each id.

Ids are Amazon's public marketplace ids (SP-API "Marketplace IDs" page). An id missing from the
table still works everywhere: English replies, the pan-European Seller Central, the raw id as label.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from msgspec import Struct

from cancelbot import languages


class MarketplaceInfo(Struct, frozen=True):
    marketplace_id: str
    domain: str  # the storefront, e.g. "amazon.fr"
    country: str  # ISO 3166 code, except "UK" as Amazon spells it
    seller_central: str  # Seller Central host for this storefront
    language: str  # code (languages.py) of the replies sent to the buyer


# Used when the id is unknown: every EU seller account can sign in there.
FALLBACK_SELLER_CENTRAL = "sellercentral-europe.amazon.com"
DEFAULT_LANGUAGE = languages.DEFAULT


def _entry(marketplace_id: str, domain: str, country: str) -> MarketplaceInfo:
    return MarketplaceInfo(
        marketplace_id=marketplace_id,
        domain=domain,
        country=country,
        seller_central=f"sellercentral.{domain}",
        # Each language of the registry names its storefronts; the others get the default.
        language=languages.STOREFRONT_LANGUAGE.get(domain, DEFAULT_LANGUAGE),
    )


MARKETPLACES: dict[str, MarketplaceInfo] = {
    m.marketplace_id: m
    for m in (
        # Europe (SP-API endpoint sellingpartnerapi-eu)
        _entry("A13V1IB3VIYZZH", "amazon.fr", "FR"),
        _entry("AMEN7PMS3EDWL", "amazon.com.be", "BE"),
        _entry("A1PA6795UKMFR9", "amazon.de", "DE"),
        _entry("A1F83G8C2ARO7P", "amazon.co.uk", "UK"),
        _entry("APJ6JRA9NG5V4", "amazon.it", "IT"),
        _entry("A1RKKUPIHCS9HS", "amazon.es", "ES"),
        _entry("A1805IZSGTT6HS", "amazon.nl", "NL"),
        _entry("A2NODRKZP88ZB9", "amazon.se", "SE"),
        _entry("A1C3SOZRARQ6R3", "amazon.pl", "PL"),
        _entry("A33AVAJ2PDY3EV", "amazon.com.tr", "TR"),
        _entry("A28R8C7NBKEWEA", "amazon.ie", "IE"),
        # North and South America (sellingpartnerapi-na)
        _entry("ATVPDKIKX0DER", "amazon.com", "US"),
        _entry("A2EUQ1WTGCTBG2", "amazon.ca", "CA"),
        _entry("A1AM78C64UM0Y8", "amazon.com.mx", "MX"),
        _entry("A2Q3Y263D00KWC", "amazon.com.br", "BR"),
    )
}


FRANCE = "A13V1IB3VIYZZH"  # our home storefront, assumed when nothing tells otherwise

_BY_DOMAIN = {m.domain: m.marketplace_id for m in MARKETPLACES.values()}


def marketplace_info(marketplace_id: str) -> MarketplaceInfo | None:
    """The table entry for this id, or None when Amazon's id is not in the table."""
    return MARKETPLACES.get((marketplace_id or "").strip())


def language_for(marketplace_id: str) -> str:
    """The language code (languages.py) of the reply to a buyer of this marketplace."""
    info = marketplace_info(marketplace_id)
    return info.language if info else DEFAULT_LANGUAGE


def marketplace_label(marketplace_id: str) -> str:
    """The storefront domain ("amazon.fr"), or the raw id when it is unknown."""
    info = marketplace_info(marketplace_id)
    return info.domain if info else marketplace_id


def seller_central_host(marketplace_id: str) -> str:
    info = marketplace_info(marketplace_id)
    return info.seller_central if info else FALLBACK_SELLER_CENTRAL


def seller_central_order_url(order_id: str, marketplace_id: str) -> str:
    """The order's page in Seller Central."""
    host = seller_central_host(marketplace_id)
    return f"https://{host}/orders-v3/order/{quote(order_id, safe='')}"


def contact_buyer_url(order_id: str, marketplace_id: str) -> str:
    """Seller Central's "contact buyer" form for the order."""
    host = seller_central_host(marketplace_id)
    query = urlencode({"orderID": order_id, "marketplaceID": marketplace_id})
    return f"https://{host}/messaging/contact?{query}"


def marketplace_for_domain(domain: str) -> str | None:
    """The marketplace id of a storefront domain ("amazon.de", "www.amazon.de"), or None."""
    domain = (domain or "").strip().lower().rstrip(".")
    domain = domain.removeprefix("www.")
    return _BY_DOMAIN.get(domain)
