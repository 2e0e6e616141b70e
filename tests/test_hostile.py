"""Issue 11: the ticket and the servers are untrusted, the terminal and the secrets are ours.

One section per item: escape sequences never reach a screen, no ticket body can hang or crash
the reading, answers and waits are bounded, secrets echoed by a server are hidden in every
encoding, URLs with credentials are refused without being echoed, odd data is one line.
CLI tests run the real sandbox behind a transport that tampers with chosen answers.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from fakes import FaultyTransport
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.config import FreshdeskSettings, load_settings
from cancelbot.errors import (
    AuthError,
    BadResponse,
    CancelbotError,
    ConfigError,
    RateLimited,
    ServiceError,
    Unreachable,
)
from cancelbot.feeds import parse_processing_report
from cancelbot.journal import FILE_NAME, Journal
from cancelbot.orders import find_order_numbers
from cancelbot.sandbox import load
from cancelbot.services.amazon import parse_order
from cancelbot.services.freshdesk import FreshdeskClient
from cancelbot.services.http import (
    RatePacer,
    RetryPolicy,
    ServiceClient,
    check_base_url,
    retry_after_seconds,
)
from cancelbot.text import (
    excerpt,
    hide_secrets,
    html_to_text,
    keep_secret,
    secret_forms,
    visible,
)

# Control characters a terminal obeys: C0 but newline and tab, DEL, C1, bidi controls.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
ATTACK = (
    "\x1b]0;pwned\x07"  # window title
    "\x1b[2J\x1b[H"  # clear screen
    "\x1b]8;;https://evil.example/\x1b\\Click here to confirm\x1b]8;;\x1b\\"  # OSC 8 link
    "\x1b[1A\x1b[2K"  # cursor up, erase the line (the status line)
    "\x1b[8mconcealed\x1b[0m"
    "\x9b31m"  # one-byte CSI
    "\u202eevil\u202c\u2066x\u2069"  # bidi override and isolate
)

Edit = Callable[[httpx.Request, httpx.Response], "httpx.Response | Exception | None"]


def Tamper(home: Path, edit: Edit) -> FaultyTransport:  # noqa: N802 - stands in for a class
    """The real sandbox, with `edit` free to replace any answer (None keeps it)."""
    return FaultyTransport(home, edit=edit)


def tamper(monkeypatch, edit: Edit) -> None:
    import cancelbot.sandbox.transport as transport

    monkeypatch.setattr(transport, "SandboxTransport", lambda home, **kw: Tamper(home, edit))


def json_edit(host: str, path: str, change: Callable[[dict], None], method: str = "GET") -> Edit:
    """Edit the JSON answer to `method` requests on `host` whose path contains `path`."""

    def edit(request: httpx.Request, response: httpx.Response):
        if (request.url.host.startswith(host) and path in request.url.path
                and request.method == method and response.status_code == 200):
            data = json.loads(response.content)
            change(data)
            return httpx.Response(200, json=data)
        return None

    return edit


def cli(*args: str, input: str = "", env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, list(args), input=input, env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    return result


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("cancelbot:")]


# -- 1. Terminal injection -----------------------------------------------------------------------


def test_visible_shows_every_control_and_drops_bidi_but_keeps_newlines_and_tabs():
    every = "".join(chr(c) for c in range(0x20)) + "\x7f" + "".join(
        chr(c) for c in range(0x80, 0xA0)) + "\u202a\u202b\u202c\u202d\u202e\u2066\u2069"
    shown = visible("a\tb\nc" + every)
    assert not UNSAFE.search(shown)
    assert shown.startswith("a\tb\nc")
    assert "\u241b" in visible("\x1b[2J")  # ESC as ␛
    assert visible("\x9b") == "\\x9b"
    assert visible("x\r\ny\rz") == "x\ny\nz"
    assert visible("plain text, é, 402-1234567-1234567") == "plain text, é, 402-1234567-1234567"
    assert visible("\ud800") == "\ufffd"  # a lone surrogate would break the terminal's encoder


def attack_ticket(data: dict) -> None:
    data["subject"] += ATTACK
    data["description"] = f"<p>{ATTACK}</p>" + data["description"]
    data["requester"]["name"] += ATTACK


def test_escape_sequences_in_a_ticket_never_reach_the_screen(home, monkeypatch):
    tamper(monkeypatch, json_edit("sandbox.freshdesk", "/tickets/1001", attack_ticket))
    before = load(home)

    result = cli("process", "1001", "--sandbox", input="n\n")

    assert result.exit_code == 3, result.output
    assert "Click here to" in result.output  # shown, as text
    assert "\u241b" in result.output  # ESC made visible
    assert not UNSAFE.search(result.output)
    assert load(home)["gstk"] == before["gstk"]


def test_escape_sequences_never_reach_the_json_document(home, monkeypatch):
    tamper(monkeypatch, json_edit("sandbox.freshdesk", "/tickets/1001", attack_ticket))

    result = cli("process", "1001", "--sandbox", "--dry-run", "--json")

    assert result.exit_code == 0, result.output
    document = result.stdout[result.stdout.index("{"):]
    assert not UNSAFE.search(json.dumps(json.loads(document), ensure_ascii=False))
    assert not UNSAFE.search(result.output)


def test_escape_sequences_in_queue_subjects_never_reach_the_screen(home, monkeypatch):
    def change(data: dict) -> None:
        for found in data["results"]:
            found["subject"] += ATTACK
    tamper(monkeypatch, json_edit("sandbox.freshdesk", "/search/tickets", change))

    listed = cli("queue", "--list", "--sandbox")
    as_json = cli("queue", "--list", "--json", "--sandbox")

    assert listed.exit_code == 0, listed.output
    assert not UNSAFE.search(listed.output)
    assert not UNSAFE.search(json.dumps(json.loads(as_json.stdout), ensure_ascii=False))


def test_a_server_error_message_cannot_carry_escape_sequences(home, monkeypatch):
    def edit(request, response):
        if request.url.host.startswith("gstk"):
            return httpx.Response(500, json={"error": "boom", "message": ATTACK})
        return None
    tamper(monkeypatch, edit)

    result = cli("process", "1001", "--sandbox")

    assert result.exit_code == 1
    assert len(error_lines(result.output)) == 1
    assert not UNSAFE.search(result.output)


# -- 2. One ticket body can hang or crash the tool -------------------------------------------------

ADVERSARIAL_HTML = {
    "unclosed tags": "<a" * 50_000,
    "unclosed comments": "<!--" * 50_000,
    "marked section": "Bonjour <![foo[ et <![ x",
    "unknown marked sections": "<![" * 50_000,
    "deep nesting": "<div>" * 20_000 + "402-1234567-1234567" + "</div>" * 20_000,
    "stray brackets": "<" * 100_000 + " 402-1234567-1234567",
    "NUL and controls": "a\x00b<p>\x1b[2J</p>&#27;[31m&#0;",
    "lone surrogate": "a\ud800b <b>402-1234567-1234567</b>",
    "script never closed": "avant<script>" + "x" * 10_000,
    "encoding declaration": "<?xml version='1.0' encoding='latin-1'?><p>été</p>",
}


@pytest.mark.parametrize("name", list(ADVERSARIAL_HTML))
def test_adversarial_html_is_read_without_an_error(name):
    text = html_to_text(ADVERSARIAL_HTML[name])
    assert isinstance(text, str)
    assert "\x00" not in text


def test_html_reading_keeps_the_text_and_drops_markup():
    assert html_to_text("Bonjour <![foo[ x]> <b>402-1234567-1234567</b>") \
        .endswith("402-1234567-1234567")
    assert html_to_text(ADVERSARIAL_HTML["deep nesting"]) == "402-1234567-1234567"
    assert html_to_text("avant<script>var x</script>après<style>p{}</style>") == "avantaprès"
    assert html_to_text(ADVERSARIAL_HTML["encoding declaration"]) == "été"
    assert html_to_text("<p>a</p>b<br>c<div>  d   e </div>") == "a\nb\nc\nd e"


def test_the_order_number_is_found_at_the_end_of_a_large_body():
    body = "<p>" + "bla " * 500_000 + "</p>" + "<p>commande 402-1234567-1234567</p>"
    assert find_order_numbers(html_to_text(body)) == ["402-1234567-1234567"]
    assert find_order_numbers("<" * 200_000 + "402-1234567-1234567") == ["402-1234567-1234567"]


def _cpu_seconds(markup: str) -> float:
    """The least CPU time of three readings (the least is the one other work disturbed least)."""
    import time

    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        html_to_text(markup)
        best = min(best, time.process_time() - started)
    return best


def test_tag_dense_html_costs_about_what_plain_text_does_and_grows_linearly():
    # No absolute seconds (bench/hostile.py has the targets): a body of tags or stray "<"
    # must cost a few times what a paragraph of words of the same size does (each tag was a
    # Python call: twenty times as much), and four times the body, about four times the time.
    size = 4_000_000
    plain = _cpu_seconds("<p>" + "mot " * (size // 4))
    for dense in ("a<br>" * (size // 5), "<b>x</b>" * (size // 8), "<" * size):
        assert _cpu_seconds(dense) <= 12 * plain + 0.1, dense[:12]  # a Python call a tag: 20x
    for unit, count in (("a<br>", size // 20), ("<div>", size // 44)):
        small = _cpu_seconds(unit * count + "x" + "</div>" * count)
        large = _cpu_seconds(unit * 4 * count + "x" + "</div>" * 4 * count)
        assert large <= 6 * small + 0.05, unit


@pytest.mark.parametrize("head, unit, tail", [
    ("Bonjour", "\n", ""),  # empty lines (a plain body: nothing collapses them)
    ("Bonjour", "\u2003\n", ""),  # blanks that are not spaces
    ("Article : a", " ", "b"),  # a name with a long run of blanks in it
])
def test_the_item_lines_of_a_plain_ticket_are_found_in_linear_time(head, unit, tail):
    # The search for "Article : …" lines took 29 s for 20,000 empty lines.
    import time
    from datetime import datetime, timezone

    from cancelbot.models import Ticket
    from cancelbot.requester import named_items

    def seconds(count: int) -> float:
        ticket = Ticket(1, "s", head + unit * count + tail, 2, "a@b.c", "n",
                        datetime.now(timezone.utc))
        started = time.process_time()
        found = named_items(ticket)
        assert found == ([f"a{unit * count}b"] if tail else [])
        return time.process_time() - started

    assert seconds(12_000) <= 6 * seconds(3_000) + 0.05


def test_an_excerpt_is_bounded_and_says_what_it_left_out():
    assert excerpt("short") == "short"
    cut = excerpt("mot " * 1_000_000, limit=2000)
    assert len(cut) < 2100
    assert cut.endswith("more characters)")


def test_the_ticket_card_shows_a_bounded_excerpt_of_a_huge_paragraph(home, monkeypatch):
    def change(data: dict) -> None:
        data["description"] = "<p>" + "blabla " * 300_000 + "</p>" + data["description"]
    tamper(monkeypatch, json_edit("sandbox.freshdesk", "/tickets/1001", change))

    result = cli("process", "1001", "--sandbox", input="n\n")

    assert result.exit_code == 3, result.output
    assert len(result.output) < 30_000
    assert "more characters)" in result.output
    assert "402-3815274-6120358" in result.output  # still found, after the huge paragraph


# -- 3. No limit on answer size or total time ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Forever(httpx.SyncByteStream):
    """An answer that never ends: `chunk` after `chunk`, `every` seconds apart (fake clock)."""

    def __init__(self, chunk: bytes, clock: Clock | None = None, every: float = 0.0) -> None:
        self.chunk, self.clock, self.every = chunk, clock, every
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        while True:
            if self.clock is not None:
                self.clock.now += self.every
            self.sent += 1
            yield self.chunk


def service(handler, **kwargs) -> ServiceClient:
    kwargs.setdefault("retry", RetryPolicy(sleep=lambda s: None))
    return ServiceClient("GSTK", "https://gstk.example.com",
                         transport=httpx.MockTransport(handler), **kwargs)


def test_an_answer_streaming_forever_is_refused_past_the_size_cap():
    stream = Forever(b" " * 65536)
    client = service(lambda r: httpx.Response(200, stream=stream), max_bytes=1024 * 1024)

    with pytest.raises(BadResponse, match="larger than 1 MB; refused"):
        client.request("GET", "/orders", what="look up")
    assert stream.sent <= 17  # 1 MB and one chunk more, not gigabytes


def test_a_declared_length_over_the_cap_is_refused_before_reading():
    stream = Forever(b"x")
    client = service(lambda r: httpx.Response(
        200, headers={"Content-Length": str(10**9)}, stream=stream), max_bytes=1000)

    with pytest.raises(BadResponse, match="larger than"):
        client.request("GET", "/orders")
    assert stream.sent == 0


def test_a_dripping_answer_stops_at_the_deadline():
    clock = Clock()
    stream = Forever(b"{", clock, every=2.0)  # one byte every 2 s: never a read timeout
    client = service(lambda r: httpx.Response(200, stream=stream), deadline=10.0,
                     clock=clock.time)

    with pytest.raises(Unreachable, match="not complete after 10 s"):
        client.request("GET", "/orders", what="look up")
    assert clock.now <= 12.0
    assert stream.sent <= 6


def test_headers_dripping_on_a_real_socket_stop_at_the_deadline():
    # A real server on 127.0.0.1 (not the network): status line and headers one byte every
    # 0.1 s, never silent as long as the read timeout, so only the total deadline stops it.
    import socket
    import threading
    import time

    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in answer:
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    client = ServiceClient("GSTK", f"http://127.0.0.1:{listener.getsockname()[1]}",
                           timeout=httpx.Timeout(5.0, connect=2.0), deadline=1.0,
                           retry=RetryPolicy(sleep=lambda s: None))
    started = time.monotonic()
    try:
        with pytest.raises(Unreachable, match="not complete after 1 s; stopped"):
            client.request("GET", "/orders", what="look up")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        client.close()
        listener.close()
        server.join(timeout=2)
    assert elapsed < 2.5  # the headers alone would take 8 s


def always_spent(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": 1, "subject": "s", "status": 2},
                          headers={"X-RateLimit-Total": "100", "X-RateLimit-Remaining": "0"})


def paced_freshdesk(handler, clock: Clock, waits: list) -> FreshdeskClient:
    retry = RetryPolicy(sleep=clock.sleep, on_wait=lambda left, why: waits.append((left, why)))
    pacer = RatePacer(60.0, clock=clock.time,
                      sleep=lambda s: retry.wait(s, "Freshdesk: rate budget nearly spent"))
    settings = FreshdeskSettings(url="https://acme.freshdesk.com", api_key="k" * 20)
    return FreshdeskClient(settings, transport=httpx.MockTransport(handler), retry=retry,
                           pacer=pacer)


def test_a_rate_budget_that_never_renews_stops_after_a_bounded_visible_wait():
    clock, waits = Clock(), []
    client = paced_freshdesk(always_spent, clock, waits)

    with pytest.raises(RateLimited, match="stopped, try again later"):
        for _ in range(10):
            client.get_ticket(1)
    assert sum(clock.slept) <= 120.0
    assert waits and waits[0][1] == "Freshdesk: rate budget nearly spent"  # a countdown


def test_a_budget_that_renews_lets_a_long_run_go_on():
    clock, waits, calls = Clock(), [], []

    def spent_now_and_then(request):
        calls.append(clock.now)
        left = "0" if len(calls) % 10 == 0 else "50"  # every tenth answer: budget spent
        return httpx.Response(200, json={"id": 1, "subject": "s", "status": 2},
                              headers={"X-RateLimit-Total": "100", "X-RateLimit-Remaining": left})
    client = paced_freshdesk(spent_now_and_then, clock, waits)

    for _ in range(50):
        client.get_ticket(1)
    assert sum(clock.slept) > 120.0  # more waiting in all than in a row: never stopped


# -- 4. Secrets echoed by a server -----------------------------------------------------------------

KEY = "fdKey4u2Y/pLz+Q9="


@pytest.mark.parametrize("encoded", [
    KEY,
    base64.b64encode(f"{KEY}:X".encode()).decode(),  # Authorization: Basic …
    quote(KEY, safe=""),
    quote(KEY, safe="").lower(),
    quote_plus(KEY),
    base64.urlsafe_b64encode(f"{KEY}:X".encode()).decode(),
    json.dumps(KEY)[1:-1],
])
def test_a_secret_is_hidden_in_each_encoding(encoded):
    keep_secret(KEY)
    assert encoded in secret_forms(KEY) or hide_secrets(encoded) != encoded
    shown = hide_secrets(f"refused: Authorization: Basic {encoded} / token={encoded}")
    assert encoded not in shown
    assert "***" in shown


def test_settings_and_tokens_printed_by_mistake_show_no_secret():
    from cancelbot.config import AmazonSettings, GstkSettings, Settings
    from cancelbot.services.amazon import _Token

    settings = Settings(
        freshdesk=FreshdeskSettings(url="https://acme.freshdesk.com", api_key="FdKeySecret1"),
        gstk=GstkSettings(url="https://gstk.example.com/api", token="GstkTokenSecret2"),
        amazon=AmazonSettings(endpoint="https://sellingpartnerapi-eu.amazon.com",
                              lwa_token_url="https://api.amazon.com/auth/o2/token",
                              client_id="amzn1.client", client_secret="LwaSecret3",
                              refresh_token="Atzr|Refresh4", seller_id="A1SELLER"),
        home=Path("/tmp/cancelbot"))
    shown = repr(settings) + repr(_Token("Atza|Access5", 0.0))
    for secret in ("FdKeySecret1", "GstkTokenSecret2", "LwaSecret3", "Atzr|Refresh4",
                   "Atza|Access5"):
        assert secret not in shown
    # What is not secret is still there to read.
    assert "https://acme.freshdesk.com" in shown and "amzn1.client" in shown
    assert "A1SELLER" in shown and "expires_at=0.0" in shown


def test_a_secret_registered_after_text_was_hidden_is_hidden_too(monkeypatch):
    import cancelbot.text as text

    monkeypatch.setattr(text, "_secret_forms", set())
    monkeypatch.setattr(text, "_secret_pattern", None)
    keep_secret("FirstSecret123")
    assert hide_secrets("a FirstSecret123 b SecondSecret456") == "a *** b SecondSecret456"
    keep_secret("SecondSecret456")  # the access token, fetched once the run is under way
    assert hide_secrets("a FirstSecret123 b SecondSecret456") == "a *** b ***"
    assert hide_secrets("nothing to hide") == "nothing to hide"


def test_a_freshdesk_error_echoing_the_authorization_header_hides_it():
    key = "FdApiKeyEchoed123"
    basic = base64.b64encode(f"{key}:X".encode()).decode()
    settings = FreshdeskSettings(url="https://acme.freshdesk.com", api_key=key)
    echo = httpx.MockTransport(lambda r: httpx.Response(400, json={
        "description": f"bad request, headers: {r.headers['Authorization']}",
        "errors": [{"field": "key", "message": key}]}))

    with FreshdeskClient(settings, transport=echo) as client, \
            pytest.raises(ServiceError) as caught:
        client.get_ticket(1)
    assert basic not in str(caught.value) and key not in str(caught.value)


def lwa_and_spapi(form_echo: bool, token: str):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            if form_echo:  # LWA answering with the form it was sent, percent-encoded
                return httpx.Response(400, json={"error": "invalid_request",
                                                 "error_description": request.content.decode()})
            return httpx.Response(200, json={"access_token": token, "expires_in": 3600})
        return httpx.Response(403, json={"errors": [{
            "code": "Unauthorized",
            "message": f"x-amz-access-token {request.headers['x-amz-access-token']} denied"}]})
    return handler


def amazon_client(handler):
    from cancelbot.config import AmazonSettings
    from cancelbot.services.amazon import AmazonClient

    settings = AmazonSettings(
        endpoint="https://sellingpartnerapi-eu.amazon.com",
        lwa_token_url="https://api.amazon.com/auth/o2/token", client_id="amzn1.app",
        client_secret="amzn1.oa2-cs.v1.S3cr3t+/x", refresh_token="Atzr|IwEB/refresh+token=",
        seller_id="A1SELLER")
    return AmazonClient(settings, transport=httpx.MockTransport(handler),
                        retry=RetryPolicy(sleep=lambda s: None)), settings


def test_an_sp_api_403_echoing_the_access_token_hides_it():
    token = "Atza|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR"
    client, _ = amazon_client(lwa_and_spapi(False, token))
    with client, pytest.raises(AuthError) as caught:
        client.get_order("402-1234567-1234567")
    assert token not in str(caught.value)
    assert "***" in str(caught.value)


def test_an_lwa_error_echoing_the_form_hides_the_percent_encoded_secrets():
    client, settings = amazon_client(lwa_and_spapi(True, ""))
    with client, pytest.raises(AuthError) as caught:
        client.get_order("402-1234567-1234567")
    message = str(caught.value)
    for secret in (settings.refresh_token, settings.client_secret):
        assert quote_plus(secret) not in message and secret not in message


def test_an_echoed_secret_reaches_neither_stderr_nor_json(home, monkeypatch):
    from cancelbot.sandbox.hosts import FRESHDESK_API_KEY

    def edit(request, response):
        if request.url.host.startswith("sandbox.freshdesk"):
            return httpx.Response(400, json={
                "description": f"Echo: {request.headers['Authorization']} ({FRESHDESK_API_KEY})"})
        return None
    tamper(monkeypatch, edit)
    basic = base64.b64encode(f"{FRESHDESK_API_KEY}:X".encode()).decode()

    plain = cli("process", "1001", "--sandbox")
    as_json = cli("process", "1001", "--sandbox", "--json")

    for result in (plain, as_json):
        assert result.exit_code == 1, result.output
        assert "Echo: Basic ***" in result.output
        assert basic not in result.output and FRESHDESK_API_KEY not in result.output
    assert "Echo: Basic ***" in json.loads(as_json.stdout)["error"]


def test_secrets_an_older_version_wrote_in_the_journal_are_hidden_by_history(home, monkeypatch):
    import cancelbot.text as text

    # A fresh process: nothing registered yet (`history` builds no client that would).
    monkeypatch.setattr(text, "_secret_forms", set())
    monkeypatch.setattr(text, "_secret_pattern", None)
    monkeypatch.setenv("FRESHDESK_URL", "https://acme.freshdesk.com")
    monkeypatch.setenv("FRESHDESK_API_KEY", KEY)
    basic = base64.b64encode(f"{KEY}:X".encode()).decode()
    encodings = (KEY, basic, quote(KEY, safe=""), quote_plus(KEY))
    with Journal.open(load_settings().world.prepare()) as journal:
        # As an older version wrote a server's error: the key in the detail, unhidden.
        journal.record(1001, "freshdesk_note", "failed", order_id="402-3815274-6120358",
                       ref=f"Basic {basic}", detail=f"HTTP 400: echo {KEY} / "
                       f"{quote(KEY, safe='')} / {quote_plus(KEY)}")

    shown = cli("history", env={"COLUMNS": "300"})
    as_json = cli("history", "1001", "--json")

    assert shown.exit_code == 0 and as_json.exit_code == 0, shown.output + as_json.output
    # The screen says one line per change (no server detail); the JSON keeps the detail, hidden.
    assert "freshdesk_note" in shown.output and "failed" in shown.output
    assert json.loads(as_json.stdout)["events"][-1]["detail"] == "HTTP 400: echo *** / *** / ***"
    for result in (shown, as_json):
        for encoded in encodings:
            assert encoded not in result.output


# -- 5. Credentials inside URLs ------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://agent:Pa55word@acme.freshdesk.com",
    "http://u:PASS@localhost:8080",
    "https://sEcReTaPiKeY123@acme.freshdesk.com",
])
def test_a_url_with_credentials_is_refused_without_echoing_them(url):
    with pytest.raises(ConfigError) as caught:
        check_base_url("FRESHDESK_URL", url)
    message = str(caught.value)
    assert "FRESHDESK_URL" in message and "user name or password" in message
    assert "@" not in message and "Pa55word" not in message and "PASS" not in message
    assert "sEcReT" not in message


@pytest.mark.parametrize("value", ["sEcReTaPiKeY123", "ftp://x", "https://?k=v", "https://[::1",
                                   "https://host:99999", "https://ho st.example"])
def test_a_bad_url_error_names_the_variable_not_the_value(value):
    with pytest.raises(ConfigError) as caught:
        check_base_url("FRESHDESK_URL", value)
    assert "FRESHDESK_URL" in str(caught.value)
    assert value not in str(caught.value)


def test_credentials_in_freshdesk_url_stop_process_and_doctor(isolated_env):
    env = {"FRESHDESK_URL": "https://u:Pa55word@acme.freshdesk.com",
           "FRESHDESK_API_KEY": "k" * 20}
    process = cli("process", "1001", env=env)
    doctor = cli("doctor", "--json", env=env)

    assert process.exit_code == 1 and len(error_lines(process.output)) == 1
    assert doctor.exit_code == 1
    assert json.loads(doctor.stdout)["checks"][0]["status"] == "failed"
    for result in (process, doctor):
        assert "Pa55word" not in result.output


def test_credentials_in_the_gstk_order_link_are_refused():
    env = {"FRESHDESK_URL": "https://acme.freshdesk.com", "FRESHDESK_API_KEY": "k" * 20,
           "GSTK_ORDER_LINK": "https://u:Pa55word@gstk.example.com/orders/{order_id}"}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "GSTK_ORDER_LINK" in str(caught.value) and "Pa55word" not in str(caught.value)


# -- 6. Tracebacks from odd data ---------------------------------------------------------------


def latin1(name: str, value: str) -> tuple[bytes, bytes]:
    return name.encode(), value.encode("latin-1")  # as a server's bytes reach httpx


def test_a_superscript_digit_in_a_rate_limit_header_is_ignored():
    pacer = RatePacer(60.0, clock=lambda: 0.0, sleep=lambda s: None)
    response = httpx.Response(200, headers=[latin1("X-RateLimit-Total", "100"),
                                            latin1("X-RateLimit-Remaining", "²")])
    pacer.observe(response)
    assert pacer.remaining is None
    assert retry_after_seconds(httpx.Response(429, headers=[latin1("Retry-After", "²")])) is None


def test_a_retry_after_date_in_minus_0000_is_read_as_utc():
    assert retry_after_seconds(httpx.Response(
        429, headers={"Retry-After": "Tue, 01 Dec 2099 10:00:00 -0000"})) > 0


def test_a_processing_report_with_superscript_digits_is_read():
    report = parse_processing_report(
        "<AmazonEnvelope><Message><ProcessingReport><ProcessingSummary>"
        "<MessagesProcessed>²</MessagesProcessed><MessagesWithError>1</MessagesWithError>"
        "</ProcessingSummary><Result><MessageID>¹</MessageID><ResultCode>Error</ResultCode>"
        "<ResultDescription>\u202ebad\x9b2J</ResultDescription></Result>"
        "</ProcessingReport></Message></AmazonEnvelope>")
    assert report.processed == 0 and report.with_error == 1
    assert report.results[0].message_id is None
    assert not UNSAFE.search(report.results[0].description)


def sandbox_order_with_item_id(item_id: str) -> Edit:
    def change(data: dict) -> None:
        data["order"]["orderItems"][0]["orderItemId"] = item_id
    return json_edit("spapi", "/orders/2026-01-01/orders/", change)


def test_an_amazon_item_id_with_a_control_character_stops_before_gstk(home, monkeypatch):
    before = load(home)
    with monkeypatch.context() as patch:  # only the tampering ends below, not the home's
        tamper(patch, sandbox_order_with_item_id("1234\x01"))
        result = cli("process", "1001", "--sandbox", "--yes")

    assert result.exit_code == 1, result.output
    assert error_lines(result.output) == [
        "cancelbot: Amazon: getOrder 402-3815274-6120358: order.orderItems[0].orderItemId "
        "holds a control character"]
    after = load(home)
    assert after["gstk"] == before["gstk"] and after["amazon"] == before["amazon"]
    for path in home.rglob(FILE_NAME):  # the journal of every world
        with Journal.open(path.parent) as journal:
            assert not [e for e in journal.history() if e.step.startswith("gstk")]

    # Amazon answers properly again: the rerun finishes the work.
    rerun = cli("process", "1001", "--sandbox", "--yes")
    assert rerun.exit_code == 0, rerun.output


def test_doctor_reads_a_date_ending_in_minus_0000(home, monkeypatch):
    def edit(request, response):
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Date": "Tue, 01 Dec 2026 10:00:00 -0000"})
        return None
    tamper(monkeypatch, edit)

    result = cli("doctor", "--sandbox", "--json")

    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["Clock"]["status"] in ("ok", "warning")


@pytest.mark.parametrize("content, says", [
    (b"FRESHDESK_URL=https://acme.freshdesk.com\nFRESHDESK_API_KEY=caf\xe9\n",
     ".env is not UTF-8 text (line 2)"),
    (b"FRESHDESK_URL=https://acme.freshdesk.com\x00\n", ".env holds a NUL byte (line 1)"),
    (b"FRESHDESK_URL=https://acme.freshdesk.com\nFRESHDESK_API_KEY=kkkkkkkk\n"
     b"CANCELBOT_READ_TIMEOUT=1e308\n", "CANCELBOT_READ_TIMEOUT must be a positive number"),
    (b"FRESHDESK_URL=https://acme.freshdesk.com\nFRESHDESK_API_KEY=kkkkkkkk\n"
     b"FRESHDESK_AGENT_ID=\xc2\xb2\n", "FRESHDESK_AGENT_ID must be a number"),
])
def test_an_odd_dotenv_is_one_line(isolated_env, content, says):
    Path(".env").write_bytes(content)

    result = cli("process", "1001")

    assert result.exit_code == 1
    assert len(error_lines(result.output)) == 1
    assert says in result.output


def test_a_second_brace_in_the_gstk_order_link_is_only_text():
    from cancelbot.services.assisted import AssistedBackOffice

    link = "https://gstk.example.com/{shop}/orders/{order_id}?x={}"
    settings = load_settings({"FRESHDESK_URL": "https://acme.freshdesk.com",
                              "FRESHDESK_API_KEY": "k" * 20, "GSTK_ORDER_LINK": link})
    assisted = AssistedBackOffice(agent=None, order_link=settings.gstk.order_link)
    assert assisted._link("402-3815274-6120358") == \
        "https://gstk.example.com/{shop}/orders/402-3815274-6120358?x={}"


def test_every_cancelbot_error_is_one_line_even_from_a_server():
    error = ServiceError("GSTK", "bad\nanswer\x1b[2J", status=500, request_id="\x1b]0;x\x07")
    assert "\n" not in str(error) and not UNSAFE.search(str(error))
    assert isinstance(error, CancelbotError)


def test_parse_order_refuses_ids_with_control_characters():
    good = {"order": {"orderId": "402-1234567-1234567", "salesChannel": {"marketplaceId": "X"},
                      "orderItems": [{"orderItemId": "123"}]}}
    assert parse_order(good).items[0].order_item_id == "123"
    for where, bad in (("orderItemId", "12\x013"), ("orderId", "402\x1b[2J")):
        data = json.loads(json.dumps(good))
        if where == "orderId":
            data["order"]["orderId"] = bad
        else:
            data["order"]["orderItems"][0]["orderItemId"] = bad
        with pytest.raises(BadResponse, match="control character"):
            parse_order(data)


def test_the_hostile_bench_runs(capsys):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.hostile import main

    assert main(["--quick"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:-1]
    assert len(rows) == 19
    assert all(row.split()[-2] in ("True", "False") for row in rows)
