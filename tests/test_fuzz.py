"""Random and adversarial input for every function that reads outside data (issue 11).

Ticket HTML, order-number text, the Freshdesk/GSTK/Amazon answers, rate-limit headers, feed
processing reports, `.env` files and configuration values: whatever they hold, the only
exceptions are cancelbot's own (CancelbotError: one line and an exit code). Bounded: 200
examples a property, no example database written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cancelbot.config import FreshdeskSettings, GstkSettings, load_dotenv_file, load_settings
from cancelbot.errors import CancelbotError
from cancelbot.feeds import parse_processing_report
from cancelbot.orders import find_order_numbers, normalize, parse_order_number
from cancelbot.services.amazon import parse_order
from cancelbot.services.freshdesk import FreshdeskClient
from cancelbot.services.gstk import GstkClient
from cancelbot.services.http import (
    RatePacer,
    RetryPolicy,
    ServiceClient,
    check_base_url,
    retry_after_seconds,
)
from cancelbot.text import html_to_text, visible

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                    "\ud800-\udfff]")

HTML_TOKENS = [
    "<", ">", "</", "<a", "<a href='", "<p>", "</p>", "<br>", "<div>", "</div>", "<!--", "-->",
    "<![", "<![CDATA[", "]]>", "<!DOCTYPE", "<?", "?>", "<script>", "</script>", "<style>",
    "&", "&#", "&#x", "&amp;", "&nbsp;", "&#27;", "&#0;", ";", "'", '"', "=", " ", "\n", "\t",
    "\x00", "\x1b[2J", "\x9b", "\u202e", "\ud800", "é", "402-1234567-1234567", "402", "-",
    "\u2011", "1234567", "<plaintext>", "<title>", "<table><tr><td>", "<meta charset=x>",
]
html_like = st.lists(st.sampled_from(HTML_TOKENS) | st.text(max_size=4), max_size=80).map(
    "".join)
any_text = st.text(max_size=300) | html_like

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=12,
)


def maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, sometimes anything JSON can hold."""
    return st.one_of(valid, valid, json_values)


def only_ours(call, *args: Any) -> Any:
    try:
        return call(*args)
    except CancelbotError:
        return None


# -- text ----------------------------------------------------------------------------------------


@FUZZ
@given(any_text)
def test_html_to_text_reads_anything(markup):
    text = html_to_text(markup)
    assert isinstance(text, str)
    assert "\x00" not in text
    assert not UNSAFE.search(visible(text))


@FUZZ
@given(any_text, st.integers(min_value=1, max_value=60))
def test_html_past_the_full_reading_is_read_roughly_without_error(markup, full):
    # Past FULL_READING characters (a million) a body is read roughly: the same checks, with
    # the limit small enough for these bodies to cross it.
    from unittest import mock

    import cancelbot.text

    with mock.patch.object(cancelbot.text, "FULL_READING", full):
        text = html_to_text(markup)
        plain = html_to_text(markup + " 402-1234567-1234567")
    assert isinstance(text, str)
    assert "\x00" not in text
    assert not UNSAFE.search(visible(text))
    assert isinstance(plain, str)


@FUZZ
@given(any_text)
def test_the_order_number_search_takes_anything(text):
    for number in find_order_numbers(text, visible(text)):
        assert re.fullmatch(r"[0-9]{3}-[0-9]{7}-[0-9]{7}", number)
    only_ours(parse_order_number, text)


_OLD_ORDER = re.compile(r"(?<![0-9-])([0-9]{3}) ?- ?([0-9]{7}) ?- ?([0-9]{7})(?![0-9-]*[0-9])")


@FUZZ
@given(st.lists(st.sampled_from(["402", "1234567", "-", " ", "1", "x", "\u2013", "12"]),
                max_size=30).map("".join))
def test_the_linear_order_pattern_finds_what_the_old_one_found(text):
    old = ["-".join(m.groups()) for m in _OLD_ORDER.finditer(normalize(text))]
    assert find_order_numbers(text) == list(dict.fromkeys(old))


# -- services: answers ---------------------------------------------------------------------------

conversation = st.fixed_dictionaries({
    "id": maybe(st.integers(1, 10**6)), "body": maybe(html_like),
    "body_text": maybe(any_text), "private": maybe(st.booleans()),
    "incoming": maybe(st.booleans()), "created_at": maybe(st.just("2026-11-27T09:00:00Z")),
})
freshdesk_ticket = st.fixed_dictionaries({
    "id": maybe(st.just(7)), "subject": maybe(any_text), "description": maybe(html_like),
    "description_text": maybe(any_text), "status": maybe(st.integers(2, 5)),
    "requester": maybe(st.fixed_dictionaries({"name": maybe(any_text),
                                              "email": maybe(any_text)})),
    "created_at": maybe(any_text), "responder_id": maybe(st.integers()),
    "conversations": maybe(st.lists(conversation, max_size=3)),
})


def answering(status: int, payload: Any, headers: list | None = None) -> httpx.MockTransport:
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.MockTransport(lambda request: httpx.Response(
        status, content=content, headers=headers or [(b"Content-Type", b"application/json")]))


def no_wait() -> RetryPolicy:
    return RetryPolicy(attempts=1, sleep=lambda seconds: None)


@FUZZ
@given(freshdesk_ticket)
def test_a_freshdesk_ticket_of_any_shape(data):
    settings_ = FreshdeskSettings(url="https://acme.freshdesk.com", api_key="k" * 20)
    with FreshdeskClient(settings_, transport=answering(200, data), retry=no_wait()) as client:
        ticket = only_ours(client.get_ticket, 7)
    if ticket is not None:
        for text in (ticket.subject, ticket.body_text, ticket.requester_name,
                     *(c.body_text for c in ticket.conversations)):
            assert not UNSAFE.search(text)


@FUZZ
@given(maybe(st.fixed_dictionaries({"total": maybe(st.integers(0, 300)),
                                    "results": maybe(st.lists(freshdesk_ticket, max_size=3))})))
def test_a_freshdesk_search_page_of_any_shape(data):
    settings_ = FreshdeskSettings(url="https://acme.freshdesk.com", api_key="k" * 20)
    with FreshdeskClient(settings_, transport=answering(200, data), retry=no_wait()) as client:
        only_ours(client.search_tickets, "status:2")


gstk_order = st.fixed_dictionaries({
    "id": maybe(any_text), "marketplace_order_id": maybe(st.just("402-1234567-1234567")),
    "status": maybe(any_text), "updated_at": maybe(any_text),
})


@FUZZ
@given(maybe(st.fixed_dictionaries({"orders": maybe(st.lists(gstk_order, max_size=3))})))
def test_a_gstk_answer_of_any_shape(data):
    settings_ = GstkSettings(url="https://gstk.example.com", token="t" * 20)
    with GstkClient(settings_, transport=answering(200, data), retry=no_wait()) as client:
        found = only_ours(client.find_order, "402-1234567-1234567")
    if found is not None:
        assert not UNSAFE.search(found.label + found.id)


amazon_item = st.fixed_dictionaries({
    "orderItemId": maybe(any_text), "quantityOrdered": maybe(st.integers()),
    "product": maybe(st.fixed_dictionaries({"title": maybe(any_text)})),
    "cancellation": maybe(st.fixed_dictionaries({
        "cancellationRequest": maybe(st.fixed_dictionaries({"requester": maybe(any_text)}))})),
})
amazon_order = st.fixed_dictionaries({"order": maybe(st.fixed_dictionaries({
    "orderId": maybe(any_text),
    "salesChannel": maybe(st.fixed_dictionaries({"marketplaceId": maybe(any_text)})),
    "fulfillment": maybe(st.fixed_dictionaries({"fulfillmentStatus": maybe(any_text)})),
    "buyer": maybe(st.fixed_dictionaries({"buyerName": maybe(any_text)})),
    "orderItems": maybe(st.lists(amazon_item, max_size=3)),
}))})


@FUZZ
@given(amazon_order)
def test_an_amazon_order_of_any_shape(data):
    order = only_ours(parse_order, data)
    if order is not None:
        from cancelbot.services.amazon import build_cancellation_feed

        ids = [i.order_item_id for i in order.items]
        if ids:  # what the lookup accepts, the feed can carry: no surprise after GSTK
            build_cancellation_feed("SELLER", [(order.order_id, ids)])


@FUZZ
@given(st.integers(100, 599), maybe(st.fixed_dictionaries({
    "message": maybe(any_text), "description": maybe(any_text), "error": maybe(any_text),
    "errors": maybe(st.lists(st.fixed_dictionaries({"field": maybe(any_text),
                                                    "message": maybe(any_text)}), max_size=2)),
})))
def test_an_error_answer_of_any_shape_is_one_line(status, data):
    settings_ = FreshdeskSettings(url="https://acme.freshdesk.com", api_key="k" * 20)
    with FreshdeskClient(settings_, transport=answering(status, data), retry=no_wait()) as client:
        try:
            client.get_ticket(7)
        except CancelbotError as exc:
            assert "\n" not in str(exc) and not UNSAFE.search(str(exc))


# -- headers -------------------------------------------------------------------------------------

header_value = st.text(alphabet=st.characters(max_codepoint=255, blacklist_characters="\r\n"),
                       max_size=40) | st.sampled_from(["²", "¹⁰", "1e308", "-1", "inf", "nan",
                                                       "Tue, 01 Dec 2026 10:00:00 -0000",
                                                       "99999999999999999999", "0x10", " 5 "])


@FUZZ
@given(header_value, header_value, header_value, st.sampled_from([200, 429]))
def test_rate_limit_headers_of_any_text(total, remaining, retry_after, status):
    response = httpx.Response(status, headers=[
        (b"X-RateLimit-Total", total.encode("utf-8")),  # any bytes a server may send
        (b"X-RateLimit-Remaining", remaining.encode("utf-8")),
        (b"Retry-After", retry_after.encode("latin-1", "replace")),
    ])
    pacer = RatePacer(60.0, clock=lambda: 1000.0, sleep=lambda seconds: None)
    pacer.observe(response)
    pacer.wait_turn()
    seconds = retry_after_seconds(response)
    assert seconds is None or seconds >= 0

    client = ServiceClient("Freshdesk", "https://acme.freshdesk.com",
                           transport=httpx.MockTransport(lambda request: response),
                           retry=RetryPolicy(attempts=2, sleep=lambda seconds: None),
                           pacer=RatePacer(60.0, clock=lambda: 1000.0,
                                           sleep=lambda seconds: None))
    only_ours(client.request, "GET", "/api/v2/tickets/1")


# -- feed processing reports ---------------------------------------------------------------------

REPORT_TOKENS = [
    "<ProcessingReport>", "</ProcessingReport>", "<ProcessingSummary>", "</ProcessingSummary>",
    "<MessagesProcessed>", "</MessagesProcessed>", "<Result>", "</Result>", "<MessageID>",
    "</MessageID>", "<ResultCode>", "</ResultCode>", "<AdditionalInfo>", "</AdditionalInfo>",
    "<AmazonOrderID>", "</AmazonOrderID>", "<ResultDescription>", "</ResultDescription>",
    "Error", "1", "²", "٣", "\u202e", "\x85", "&amp;", "&#27;", "<!DOCTYPE x [<!ENTITY a 'b'>]>",
    "&a;", "<![CDATA[", "]]>", "402-1234567-1234567",
]


@FUZZ
@given(st.lists(st.sampled_from(REPORT_TOKENS) | st.text(max_size=3), max_size=40).map("".join))
def test_a_processing_report_of_any_text(text):
    report = only_ours(parse_processing_report, text)
    if report is not None:
        for result in report.results:
            assert not UNSAFE.search(result.description + result.code + result.order_id)


# -- configuration -------------------------------------------------------------------------------

VARIABLES = ["FRESHDESK_URL", "FRESHDESK_API_KEY", "FRESHDESK_AGENT_ID", "FRESHDESK_RATE_WINDOW",
             "GSTK_URL", "GSTK_TOKEN", "GSTK_ORDER_LINK", "CANCELBOT_READ_TIMEOUT",
             "CANCELBOT_CONNECT_TIMEOUT", "CANCELBOT_FEED_WAIT", "SPAPI_ENDPOINT",
             "LWA_TOKEN_URL"]
config_value = st.text(max_size=40) | st.sampled_from([
    "https://acme.freshdesk.com", "http://u:p@localhost", "https://[::1", "1e308", "²", "nan",
    "https://x/{order_id}{", "{order_id}", "-0", "https://host:99999", "https://ok.example.com",
])


@FUZZ
@given(st.dictionaries(st.sampled_from(VARIABLES), config_value, max_size=8))
def test_configuration_of_any_text(env):
    env = {"FRESHDESK_URL": "https://acme.freshdesk.com", "FRESHDESK_API_KEY": "k" * 10, **env}
    with tempfile.TemporaryDirectory() as home:
        only_ours(load_settings, {**env, "CANCELBOT_HOME": home})
    only_ours(check_base_url, "FRESHDESK_URL", env["FRESHDESK_URL"])


@FUZZ
@given(st.binary(max_size=200) | st.lists(st.sampled_from([
    b"A=1\n", b"B='x\n", b'C="\\x00"\n', b"\xff", b"\x00", b"export D=2\n", b"=\n", b"E\n",
    b"\xef\xbb\xbfF=3\n", b"G=${H}\n", b"#c\n", b"I=\xc2\xb2\n"]), max_size=8).map(b"".join))
def test_a_dotenv_of_any_bytes(content):
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ), \
            _cwd(Path(folder)):
        Path(".env").write_bytes(content)
        only_ours(load_dotenv_file)


class _cwd:
    def __init__(self, path: Path) -> None:
        self.path, self.before = path, Path.cwd()

    def __enter__(self) -> None:
        os.chdir(self.path)

    def __exit__(self, *exc: object) -> None:
        os.chdir(self.before)
