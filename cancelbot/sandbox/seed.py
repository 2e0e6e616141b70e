"""The world `cancelbot sandbox reset` writes: twelve open tickets, one or more per branch.

Tickets and orders are tables a reader can scan; `build_seed` turns them into the wire shapes
the simulated Freshdesk, GSTK and SP-API serve. Times are relative to the reset, so the
tickets always look a few hours old.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from msgspec import Struct

from cancelbot.i18n import N_
from cancelbot.text import html_to_text

STATE_VERSION = 1  # of the state file: another version is seeded afresh


def now_iso(moment: datetime | None = None) -> str:
    """UTC, to the second, with a Z: the format Freshdesk and SP-API both use."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

# GSTK's own words (the seed procedure's statuses).
AWAITING = "En attente de préparation"
IN_PREPARATION = "En cours de préparation"
PREPARED = "Préparée"
SHIPPED = "Expédiée"
CANCELLED = "Annulée"

# marketplace → (marketplaceId, marketplaceName, buyer locale)
MARKETPLACES = {
    "fr": ("A13V1IB3VIYZZH", "Amazon.fr", "fr-FR"),
    "de": ("A1PA6795UKMFR9", "Amazon.de", "de-DE"),
    "uk": ("A1F83G8C2ARO7P", "Amazon.co.uk", "en-GB"),
    "it": ("APJ6JRA9NG5V4", "Amazon.it", "it-IT"),
    "be": ("AMEN7PMS3EDWL", "Amazon.com.be", "fr-BE"),
}

AGENT_ID = 48000000001
CONTACT_ID_BASE = 48012000000
FIRST_CONVERSATION_ID = 48100000001
FIRST_FEED_ID = 50012345001
AMAZON_NOTIFIER = ("Amazon", "donotreply@amazon.com")


class Item(Struct, frozen=True):
    asin: str
    sku: str
    title: str
    quantity: int = 1


class Order(Struct, frozen=True):
    order_id: str
    marketplace: str
    fulfillment: str  # SP-API fulfillmentStatus
    gstk: tuple[str, str] | None  # (GSTK id, GSTK label); None: GSTK does not know it
    buyer: str
    buyer_email: str
    items: tuple[Item, ...]
    buyer_cancel_reason: str = ""  # set when the buyer asked Amazon to cancel
    placed_hours_ago: float = 30.0
    # Amazon accepts the cancellation feed (202), then its processing report refuses it: the
    # shipment is confirmed while the feed waits in Amazon's queue (sandbox/feeds.py).
    late_refusal: bool = False


class Message(Struct, frozen=True):
    html: str
    minutes_after: int
    incoming: bool = True  # False: written by an agent
    private: bool = False


class Ticket(Struct, frozen=True):
    id: int
    subject: str
    html: str
    requester: tuple[str, str]  # (name, email)
    hours_ago: float
    order_ids: tuple[str, ...]
    expected_branch: str
    conversations: tuple[Message, ...] = ()
    tags: tuple[str, ...] = ("amazon",)
    priority: int = 1


AVENE = Item(
    "B00BFMX3LE", "CC-3282770100389", "Avène Cicalfate+ Crème Réparatrice Protectrice 40 ml"
)
ANTHELIOS = Item(
    "B0BVQZ1K8M", "CC-3337875797597",
    "La Roche-Posay Anthelios UVMune 400 Fluide Invisible SPF50+ 50 ml",
)
SENSIBIO = Item("B00CL7T6CI", "CC-3401396991236", "Bioderma Sensibio H2O Eau Micellaire 500 ml", 2)
NUXE = Item("B001E96NLK", "CC-3264680009105", "Nuxe Huile Prodigieuse 100 ml")
CAUDALIE = Item("B07NQ3RT7V", "CC-3522930003045", "Caudalie Eau de Raisin 200 ml")
EUCERIN = Item("B07YZ8K2VW", "CC-4005900730931", "Eucerin Hyaluron-Filler Tagespflege LSF 30 50 ml")
URIAGE = Item("B01N2Z4C3Q", "CC-3661434006432", "Uriage Eau Thermale Crème d'Eau Légère 40 ml")
CERAVE = Item("B07C5SS6YX", "CC-3337875597180", "CeraVe Moisturising Cream 454 g")
SVR = Item("B08L8QGQ2S", "CC-3662361001477", "SVR Sebiaclear Gel Moussant 400 ml")
KLORANE = Item("B00LQ2B2V0", "CC-3282770114539", "Klorane Shampooing Sec à l'Avoine 150 ml", 3)
ATODERM = Item("B00KBTMNFE", "CC-3401528519494", "Bioderma Atoderm Crème Ultra 500 ml")

ORDERS = (
    Order("402-3815274-6120358", "fr", "UNSHIPPED", ("GS-1048213", AWAITING),
          "Camille Laurent", "0fbr9xq2m7k4d5t@marketplace.amazon.fr", (AVENE, SENSIBIO),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=9),
    Order("302-5521908-4417736", "de", "SHIPPED", ("GS-1048198", SHIPPED),
          "Lukas Schneider", "k7m2q9xb4vd1r3t@marketplace.amazon.de", (EUCERIN,),
          buyer_cancel_reason="Delivery time too long", placed_hours_ago=40),
    Order("203-6640182-9937125", "uk", "UNSHIPPED", ("GS-1048176", PREPARED),
          "Oliver Bennett", "x2r8c5mw1qz7n4k@marketplace.amazon.co.uk", (CERAVE,),
          buyer_cancel_reason="Found a better price", placed_hours_ago=28),
    Order("171-2298476-5532014", "it", "UNSHIPPED", ("GS-1048160", IN_PREPARATION),
          "Giulia Romano", "m4t9v2kd8xw1b6p@marketplace.amazon.it", (NUXE,),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=22),
    Order("405-7730215-0081453", "fr", "UNSHIPPED", None,
          "Sophie Garnier", "w5d1n8hq3kz6r2y@marketplace.amazon.fr", (URIAGE,),
          placed_hours_ago=20),
    Order("404-1187342-6650921", "fr", "SHIPPED", ("GS-1048102", AWAITING),
          "Thomas Moreau", "c9p4x7lt2mb5v8q@marketplace.amazon.fr", (ANTHELIOS,),
          buyer_cancel_reason="No longer needed", placed_hours_ago=52),
    Order("306-4471029-8815562", "de", "UNSHIPPED", ("GS-1048087", CANCELLED),
          "Anna Fischer", "h3z8q1rw6nd9k2m@marketplace.amazon.de", (CAUDALIE, SENSIBIO),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=46),
    Order("402-1234567-7654321", "be", "UNSHIPPED", ("GS-1048054", AWAITING),
          "Élodie Dubois", "r6k2m9wq4xt1c8v@marketplace.amazon.com.be", (KLORANE,),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=31),
    Order("407-2290518-3346071", "fr", "UNSHIPPED", ("GS-1048031", AWAITING),
          "Nathalie Petit", "b8v3n6kq1zr5w9x@marketplace.amazon.fr", (SVR,),
          placed_hours_ago=33),
    Order("407-9913364-0572218", "fr", "SHIPPED", ("GS-1047990", SHIPPED),
          "Nathalie Petit", "b8v3n6kq1zr5w9x@marketplace.amazon.fr", (CAUDALIE,),
          placed_hours_ago=60),
    Order("408-5518230-2290417", "fr", "SHIPPED", ("GS-1047968", SHIPPED),
          "Jean Dupont", "t1q7w4zk9mc3x6r@marketplace.amazon.fr", (ANTHELIOS, NUXE),
          placed_hours_ago=58),
    Order("406-3318752-9047216", "fr", "UNSHIPPED", ("GS-1048229", AWAITING),
          "Mathilde Roux", "v4n7k2wq9xm3t5c@marketplace.amazon.fr", (ATODERM,),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=4, late_refusal=True),
)

# A buyer's cancellation request that Amazon shows but no ticket names yet (its email has not
# reached Freshdesk): `cancelbot queue --sandbox` finds it through searchOrders.
AMAZON_ONLY = (
    Order("403-6618204-5193342", "fr", "UNSHIPPED", ("GS-1048230", AWAITING),
          "Hugo Lambert", "v7c2k9mq4xw8z1t@marketplace.amazon.fr", (CAUDALIE,),
          buyer_cancel_reason="Ordered by mistake", placed_hours_ago=1.5),
)

_AMAZON_FR_FOOTER = (
    "<p>Si la commande n'a pas encore été expédiée, annulez-la depuis la page Gérer les "
    "commandes de Seller Central avec le motif « Annulation demandée par l'acheteur ». Si elle a "
    "déjà été expédiée, répondez à l'acheteur pour l'en informer.</p>"
    "<p>Cordialement,<br>Amazon Services Europe</p>"
)

TICKETS = (
    Ticket(
        1001,
        "Demande d'annulation de commande de la part du client Amazon Camille Laurent "
        "(Commande : 402-3815274-6120358)",
        "<div><p>Bonjour,</p>"
        "<p>Le client Camille Laurent a demandé l'annulation de la commande suivante :</p>"
        "<p>N° de commande : 402-3815274-6120358<br>"
        "Article : Avène Cicalfate+ Crème Réparatrice Protectrice 40 ml<br>"
        "Article : Bioderma Sensibio H2O Eau Micellaire 500 ml (quantité : 2)<br>"
        "Motif de l'annulation : Commande passée par erreur</p>"
        f"{_AMAZON_FR_FOOTER}</div>",
        ("Camille Laurent", "0fbr9xq2m7k4d5t@marketplace.amazon.fr"),
        2.5, ("402-3815274-6120358",), N_("cancel"),
    ),
    Ticket(
        1002,
        "Stornierungsanfrage von Amazon-Kunde Lukas Schneider",
        "<div><p>Guten Tag,</p>"
        "<p>der Kunde Lukas Schneider hat die Stornierung der folgenden Bestellung beantragt:</p>"
        "<p>Bestellnummer: 302-5521908-4417736<br>"
        "Artikel: Eucerin Hyaluron-Filler Tagespflege LSF 30 50 ml<br>"
        "Grund: Lieferzeit zu lang</p>"
        "<p>Falls die Bestellung noch nicht versandt wurde, stornieren Sie sie bitte über "
        "„Bestellungen verwalten“ in Seller Central. Wurde sie bereits versandt, antworten Sie "
        "bitte dem Käufer.</p><p>Mit freundlichen Grüßen<br>Amazon Services Europe</p></div>",
        ("Lukas Schneider", "k7m2q9xb4vd1r3t@marketplace.amazon.de"),
        5, ("302-5521908-4417736",), N_("cannot cancel: reply (DE)"),
        conversations=(
            Message("<p>Hallo, ist die Bestellung schon unterwegs? Ich brauche sie nicht mehr."
                    "</p><p>Lukas Schneider</p>", 95),
        ),
    ),
    Ticket(
        1003,
        "Order cancellation request from Amazon customer Oliver Bennett",
        "<div><p>Hello,</p>"
        "<p>Your customer Oliver Bennett has requested the cancellation of order "
        "203-6640182-9937125.</p>"
        "<p>Item: CeraVe Moisturising Cream 454 g<br>Reason: Found a better price</p>"
        "<p>If the order has not shipped yet, please cancel it from Manage Orders in Seller "
        "Central. If it has shipped, please contact the buyer through Buyer-Seller Messaging.</p>"
        "<p>This email was sent from a notification-only address that cannot accept incoming "
        "email. Please do not reply to this message.</p>"
        "<p>Regards,<br>Amazon Services Europe</p></div>",
        AMAZON_NOTIFIER,
        7.25, ("203-6640182-9937125",), N_("cannot cancel: assisted message (EN)"),
    ),
    Ticket(
        1004,
        "Richiesta di cancellazione dell'ordine da parte del cliente Amazon Giulia Romano "
        "(Ordine: 171-2298476-5532014)",
        "<div><p>Buongiorno,</p>"
        "<p>il cliente Giulia Romano ha richiesto la cancellazione del suo ordine.</p>"
        "<p>Articolo: Nuxe Huile Prodigieuse 100 ml<br>Motivo: Ordinato per errore</p>"
        "<p>Se l'ordine non è ancora stato spedito, annullalo da Gestisci ordini in Seller "
        "Central. Se è già stato spedito, rispondi all'acquirente.</p>"
        "<p>Cordiali saluti,<br>Amazon Services Europe</p></div>",
        ("Giulia Romano", "m4t9v2kd8xw1b6p@marketplace.amazon.it"),
        9, ("171-2298476-5532014",), N_("cannot cancel: reply in English"),
    ),
    Ticket(
        1005,
        "Annulation",
        "<div><p>Bonjour,</p>"
        "<p>J'ai passé commande hier soir et je me suis trompée de format pour le shampooing. "
        "Pouvez-vous annuler ma commande s'il vous plaît ? Je repasserai commande ensuite.</p>"
        "<p>Merci d'avance,<br>Martine Lefèvre<br>Tél. 06 12 34 56 78</p></div>",
        ("Martine Lefèvre", "p2w7k4xz9qm1c5n@marketplace.amazon.fr"),
        11.5, (), N_("no order number"),
        tags=("amazon", "annulation"),
    ),
    Ticket(
        1006,
        "Question sur ma commande",
        "<div><p>Bonjour,</p><p>Je souhaite annuler la crème Uriage que j'ai commandée, je "
        "l'ai trouvée en pharmacie près de chez moi.</p><p>Sophie Garnier</p></div>",
        ("Sophie Garnier", "w5d1n8hq3kz6r2y@marketplace.amazon.fr"),
        14, ("405-7730215-0081453",), N_("order unknown to GSTK"),
        conversations=(
            Message("<p>J'oubliais : le numéro de commande est le 405-7730215-0081453.</p>"
                    "<p>Bonne journée</p>", 12),
        ),
    ),
    Ticket(
        1007,
        "Demande d'annulation de commande de la part du client Amazon Thomas Moreau "
        "(Commande : 404-1187342-6650921)",
        "<div><p>Bonjour,</p>"
        "<p>Le client Thomas Moreau a demandé l'annulation de la commande suivante :</p>"
        "<p>N° de commande : 404-1187342-6650921<br>"
        "Article : La Roche-Posay Anthelios UVMune 400 Fluide Invisible SPF50+ 50 ml<br>"
        "Motif de l'annulation : N'en a plus besoin</p>"
        f"{_AMAZON_FR_FOOTER}</div>",
        ("Thomas Moreau", "c9p4x7lt2mb5v8q@marketplace.amazon.fr"),
        17, ("404-1187342-6650921",), N_("statuses disagree: needs a human"),
        conversations=(
            Message("<p>Client relancé par téléphone, attend une réponse rapide.</p>", 40,
                    incoming=False, private=True),
        ),
        priority=2,
    ),
    Ticket(
        1008,
        "Stornierungsanfrage von Amazon-Kunde Anna Fischer (Bestellung: 306-4471029-8815562)",
        "<div><p>Guten Tag,</p>"
        "<p>die Kundin Anna Fischer hat die Stornierung ihrer Bestellung beantragt.</p>"
        "<p>Artikel: Caudalie Eau de Raisin 200 ml<br>"
        "Artikel: Bioderma Sensibio H2O Eau Micellaire 500 ml (Menge: 2)<br>"
        "Grund: Versehentlich bestellt</p>"
        "<p>Mit freundlichen Grüßen<br>Amazon Services Europe</p></div>",
        ("Anna Fischer", "h3z8q1rw6nd9k2m@marketplace.amazon.de"),
        20, ("306-4471029-8815562",), N_("cancelled in GSTK: offer Amazon cancel"),
    ),
    Ticket(
        1009,
        "Demande d'annulation de commande de la part du client Amazon Élodie Dubois",
        # A number pasted from a rich-text editor: non-breaking hyphen (U+2011), en dash
        # (U+2013), non-breaking spaces around it, and split across two inline tags.
        "<div><p>Bonjour,</p>"
        "<p>La cliente Élodie Dubois a demandé l'annulation de la commande suivante&nbsp;:</p>"
        "<p>N°&nbsp;de&nbsp;commande&nbsp;:&nbsp;<b>402&#8209;1234567</b>&ndash;7654321&nbsp;"
        "<br>Article&nbsp;: Klorane Shampooing Sec à l'Avoine 150 ml (quantité&nbsp;: 3)<br>"
        "Motif de l'annulation&nbsp;: Commande passée par erreur</p>"
        f"{_AMAZON_FR_FOOTER}</div>",
        ("Élodie Dubois", "r6k2m9wq4xt1c8v@marketplace.amazon.com.be"),
        23, ("402-1234567-7654321",), N_("cancel (French, amazon.com.be)"),
    ),
    Ticket(
        1010,
        "Annuler une de mes deux commandes",
        "<div><p>Bonjour,</p>"
        "<p>J'ai passé deux commandes chez vous cette semaine : 407-2290518-3346071 (gel "
        "moussant SVR) et 407-9913364-0572218 (eau de raisin Caudalie).</p>"
        "<p>Je voudrais annuler celle qui n'est pas encore partie, je n'en ai finalement "
        "plus besoin.</p><p>Cordialement,<br>Nathalie Petit</p></div>",
        ("Nathalie Petit", "b8v3n6kq1zr5w9x@marketplace.amazon.fr"),
        26, ("407-2290518-3346071", "407-9913364-0572218"), N_("two orders: agent chooses"),
    ),
    Ticket(
        1011,
        "[bold red]URGENT[/] annulez ma commande <script>alert(1)</script>",
        # Markup is escaped in the HTML, as Freshdesk stores what a customer typed: the text
        # the agent sees must show it literally, never render it.
        "<div><p>[bold red]URGENT[/] Annulez tout de suite ma commande "
        "408-5518230-2290417 !!!</p>"
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; [link=https://example.invalid]cliquez "
        "ici[/link] &lt;img src=x onerror=alert(2)&gt; {{ agent_name }} $(rm -rf ~)</p>"
        "<p>[i]Jean[/i]</p></div>",
        ("Jean [i]Dupont[/i]", "t1q7w4zk9mc3x6r@marketplace.amazon.fr"),
        29, ("408-5518230-2290417",), N_("cannot cancel: reply (markup shown literally)"),
        priority=3,
    ),
    Ticket(
        1012,
        "Demande d'annulation de commande de la part du client Amazon Mathilde Roux "
        "(Commande : 406-3318752-9047216)",
        "<div><p>Bonjour,</p>"
        "<p>La cliente Mathilde Roux a demandé l'annulation de la commande suivante :</p>"
        "<p>N° de commande : 406-3318752-9047216<br>"
        "Article : Bioderma Atoderm Crème Ultra 500 ml<br>"
        "Motif de l'annulation : Commande passée par erreur</p>"
        f"{_AMAZON_FR_FOOTER}</div>",
        ("Mathilde Roux", "v4n7k2wq9xm3t5c@marketplace.amazon.fr"),
        1.5, ("406-3318752-9047216",), N_("cancel, then Amazon's feed report refuses it"),
    ),
)


def build_seed(now: datetime) -> dict[str, Any]:
    """The whole sandbox state, with every time relative to `now` (an aware datetime)."""
    next_conversation = FIRST_CONVERSATION_ID
    contacts: dict[str, Any] = {}
    tickets: dict[str, Any] = {}
    scenarios: dict[str, Any] = {}
    for spec in TICKETS:
        created = now - timedelta(hours=spec.hours_ago)
        contact_id = CONTACT_ID_BASE + spec.id
        name, email = spec.requester
        contacts[str(contact_id)] = {
            "id": contact_id, "name": name, "email": email, "mobile": None, "phone": None,
        }
        conversations = []
        for message in spec.conversations:
            at = now_iso(created + timedelta(minutes=message.minutes_after))
            conversations.append(
                {
                    "id": next_conversation,
                    "body": message.html,
                    "body_text": html_to_text(message.html),
                    "incoming": message.incoming,
                    "private": message.private,
                    "user_id": contact_id if message.incoming else AGENT_ID,
                    "support_email": None,
                    "source": 0 if message.incoming else 2,
                    "ticket_id": spec.id,
                    "from_email": email if message.incoming else None,
                    "to_emails": [],
                    "cc_emails": [],
                    "bcc_emails": [],
                    "attachments": [],
                    "created_at": at,
                    "updated_at": at,
                }
            )
            next_conversation += 1
        last_change = conversations[-1]["created_at"] if conversations else now_iso(created)
        tickets[str(spec.id)] = {
            "id": spec.id,
            "subject": spec.subject,
            "description": spec.html,
            "description_text": html_to_text(spec.html),
            "status": 2,
            "priority": spec.priority,
            "source": 1,
            "type": None,
            "requester_id": contact_id,
            "responder_id": None,
            "group_id": None,
            "company_id": None,
            "tags": list(spec.tags),
            "cc_emails": [],
            "fwd_emails": [],
            "reply_cc_emails": [],
            "to_emails": ["support@cocooncenter.sandbox.invalid"],
            "spam": False,
            "is_escalated": False,
            "custom_fields": {},
            "created_at": now_iso(created),
            "updated_at": last_change,
            "due_by": now_iso(created + timedelta(days=3)),
            "fr_due_by": now_iso(created + timedelta(days=1)),
            "conversations": conversations,
        }
        scenarios[str(spec.id)] = {
            "order_ids": list(spec.order_ids),
            "expected_branch": spec.expected_branch,
        }

    gstk_orders: dict[str, Any] = {}
    amazon_orders: dict[str, Any] = {}
    for order in (*ORDERS, *AMAZON_ONLY):
        placed = now - timedelta(hours=order.placed_hours_ago)
        marketplace_id, marketplace_name, locale = MARKETPLACES[order.marketplace]
        if order.gstk is not None:
            gstk_id, label = order.gstk
            gstk_orders[gstk_id] = {
                "id": gstk_id,
                "marketplace_order_id": order.order_id,
                "status": label,
                "updated_at": now_iso(placed + timedelta(hours=2)),
                "history": [],
            }
        digits = order.order_id.replace("-", "")
        items = []
        for index, item in enumerate(order.items, start=1):
            entry: dict[str, Any] = {
                "orderItemId": f"{digits[-13:]}{index}",
                "quantityOrdered": item.quantity,
                "product": {"asin": item.asin, "title": item.title, "sellerSku": item.sku},
            }
            if order.buyer_cancel_reason:
                entry["cancellation"] = {
                    "cancellationRequest": {
                        "requester": "BUYER",
                        "cancelReason": order.buyer_cancel_reason,
                    }
                }
            items.append(entry)
        amazon_orders[order.order_id] = {
            "buyer_locale": locale,
            "late_refusal": order.late_refusal,
            "order": {
                "orderId": order.order_id,
                "createdTime": now_iso(placed),
                "lastUpdatedTime": now_iso(placed + timedelta(hours=1)),
                "salesChannel": {
                    "channelName": "AMAZON",
                    "marketplaceId": marketplace_id,
                    "marketplaceName": marketplace_name,
                },
                "fulfillment": {"fulfillmentStatus": order.fulfillment, "fulfilledBy": "MERCHANT"},
                "buyer": {"buyerName": order.buyer, "buyerEmail": order.buyer_email},
                "orderItems": items,
            },
        }

    return {
        "version": STATE_VERSION,
        "seeded_at": now_iso(now),
        "counters": {"conversation": next_conversation, "feed": FIRST_FEED_ID},
        "scenarios": scenarios,
        "freshdesk": {"contacts": contacts, "tickets": tickets},
        "gstk": {"orders": gstk_orders},
        "amazon": {"orders": amazon_orders, "documents": {}, "feeds": {}, "feed_queue": {}},
    }

