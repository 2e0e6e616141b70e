import pytest

from cancelbot.errors import UsageError
from cancelbot.orders import find_order_numbers, parse_order_number, relay_domain


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        # Amazon's own subjects, one per marketplace language
        (["Order cancellation request from Amazon customer Jane (Order: 026-1234567-7654321)"],
         ["026-1234567-7654321"]),
        (["Demande d'annulation de commande de la part du client Amazon (Commande : "
          "402-1111111-2222222)"], ["402-1111111-2222222"]),
        (["Stornierungsanfrage von Amazon-Kunde (Bestellung: 302-7654321-1234567)"],
         ["302-7654321-1234567"]),
        (["Solicitud de cancelación del cliente de Amazon (Pedido: 406-5555555-6666666)"],
         ["406-5555555-6666666"]),
        (["Richiesta di cancellazione dell'ordine 171-9876543-2109876 da un cliente Amazon"],
         ["171-9876543-2109876"]),
        # HTML around and inside, entities, unicode dashes and non-breaking spaces
        (["", "<div>Numéro&nbsp;: <b>402</b>-<b>1234567</b>-<b>7654321</b></div>"],
         ["402-1234567-7654321"]),
        (["402\u20111234567\u20137654321"], ["402-1234567-7654321"]),
        (["402\u00a0\u2014\u00a01234567\u00a0\u2014\u00a07654321"], ["402-1234567-7654321"]),
        (["402&#8209;1234567&ndash;7654321"], ["402-1234567-7654321"]),
        # the same number twice is one number; two numbers keep their order of appearance
        (["re: 402-1234567-7654321", "402-1234567-7654321 please"], ["402-1234567-7654321"]),
        (["405-0000000-1111111", "", "and also 402-2222222-3333333"],
         ["405-0000000-1111111", "402-2222222-3333333"]),
        # none: too short, too long, phone numbers, dates
        (["Call me at 06-1234567-12345", "ref 1402-1234567-1234567", "402-1234567-12345678"], []),
        (["", ""], []),
    ],
)
def test_find_order_numbers(texts, expected):
    assert find_order_numbers(*texts) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("402-1234567-7654321", "402-1234567-7654321"),
        ("  402 1234567 7654321 ", "402-1234567-7654321"),
        ("40212345677654321", "402-1234567-7654321"),
        ("402\u20111234567\u20117654321", "402-1234567-7654321"),
        # what agents paste (issue 14): a "#", unicode dashes, spaces around, a Seller Central link
        ("#402-1234567-7654321", "402-1234567-7654321"),
        ("  # 402-1234567-7654321\t\n", "402-1234567-7654321"),
        ("402\u20121234567\u20147654321", "402-1234567-7654321"),
        ("\u00a0402\u22121234567\u22127654321\u00a0", "402-1234567-7654321"),
        ("https://sellercentral.amazon.fr/orders-v3/order/402-1234567-7654321",
         "402-1234567-7654321"),
        (" https://sellercentral.amazon.de/orders-v3/order/302-7654321-1234567/?ref=xx ",
         "302-7654321-1234567"),
        ("sellercentral.amazon.co.uk/orders-v3/order/203-6640182-9937125",
         "203-6640182-9937125"),
        ("https://sellercentral-europe.amazon.com/orders-v3/search?orderId=402-1234567-7654321",
         "402-1234567-7654321"),
        ("https://sellercentral.amazon.fr/messaging/contact?orderID=402-1234567-7654321"
         "&marketplaceID=A13V1IB3VIYZZH", "402-1234567-7654321"),
        ("<https://sellercentral.amazon.fr/orders-v3/order/402%2D1234567%2D7654321>",
         "402-1234567-7654321"),
    ],
)
def test_parse_order_number_accepts(typed, expected):
    assert parse_order_number(typed) == expected


@pytest.mark.parametrize(
    "typed", ["", "402-123", "abc", "402-1234567-76543210", "４０２-1234567-7654321",
              "order 402-1234567-7654321"],
)
def test_parse_order_number_rejects(typed):
    with pytest.raises(UsageError, match="not an Amazon order number"):
        parse_order_number(typed)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("https://example.com/orders-v3/order/402-1234567-7654321", "not a Seller Central link"),
        ("https://sellercentral.amazon.fr.example.com/orders-v3/order/402-1234567-7654321",
         "not a Seller Central link"),
        ("https://[sellercentral.amazon.fr/orders-v3/order/402-1234567-7654321",
         "not a Seller Central link"),
        ("https://sellercentral.amazon.fr/orders-v3", "no Amazon order number"),
        ("https://sellercentral.amazon.fr/orders-v3/order/402-12345", "no Amazon order number"),
        ("https://sellercentral.amazon.fr/orders-v3/order/402-1234567-7654321"
         "?orderId=402-1111111-2222222", "two different orders"),
    ],
)
def test_parse_order_number_rejects_other_links(typed, message):
    with pytest.raises(UsageError, match=message):
        parse_order_number(typed)


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("abc123@marketplace.amazon.de", "amazon.de"),
        ("X@Marketplace.Amazon.co.uk", "amazon.co.uk"),
        ("x@marketplace.amazon.com.be", "amazon.com.be"),
        ("donotreply@amazon.com", None),
        ("buyer@gmail.com", None),
        ("", None),
    ],
)
def test_relay_domain(email, domain):
    assert relay_domain(email) == domain
