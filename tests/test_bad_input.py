"""Every bad input of issue 3 §7: one clear line, the documented exit code, no traceback, and
nothing changed — neither on the (sandbox) services nor in the journal.

Service failures are injected by replacing the sandbox transport the CLI builds with one that
answers chosen requests badly and forwards the rest to the real sandbox. A run that leaves the
ticket to a person notes why on it (the one change allowed: `fakes.unflagged`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fakes import FaultyTransport, as_found, unflagged
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.journal import FILE_NAME, Journal
from cancelbot.sandbox import load

Answer = Callable[[httpx.Request], "httpx.Response | Exception | None"]


def on(host: str, answer: httpx.Response | Exception, path: str = "") -> Answer:
    """Answer requests to `host` (whose path contains `path`) with `answer`."""

    def respond(request: httpx.Request):
        if request.url.host.startswith(host) and path in request.url.path:
            return answer
        return None

    return respond


def not_json(status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=b"<html>oops</html>",
                          headers={"Content-Type": "application/json"})


@dataclass
class Case:
    args: list[str]
    code: int
    says: str
    answer: Answer | None = None
    env: dict[str, str] = field(default_factory=dict)
    input: str = ""
    templates: dict[str, str] | None = None  # language → template text


CASES = {
    "ticket id not a number": Case(["process", "abc", "--sandbox"], 2,
                                   "ticket id must be a positive whole number, got 'abc'"),
    "ticket id zero": Case(["process", "0", "--sandbox"], 2, "positive whole number"),
    "ticket id negative": Case(["process", "-5", "--sandbox"], 2, "No such option: -5"),
    "unknown language": Case(["process", "1002", "--sandbox", "--lang", "xx"], 2,
                             "Invalid value for '--lang'"),
    "ticket not found": Case(["process", "9999", "--sandbox"], 1,
                             "Freshdesk: ticket 9999 not found (HTTP 404)"),
    "Freshdesk key refused": Case(
        ["process", "1001", "--sandbox"], 1, "API key refused — check FRESHDESK_API_KEY",
        on("sandbox.freshdesk", httpx.Response(401, json={"code": "invalid_credentials"}))),
    "Freshdesk key without access": Case(
        ["process", "1001", "--sandbox"], 1, "this key's agent may not access tickets",
        on("sandbox.freshdesk", httpx.Response(403, json={}))),
    "Freshdesk unreachable": Case(
        ["process", "1001", "--sandbox"], 1, "Freshdesk: cannot connect",
        on("sandbox.freshdesk", httpx.ConnectError("no Wi-Fi"))),
    "GSTK 5xx": Case(
        ["process", "1001", "--sandbox"], 1, "GSTK: look up Amazon order",
        on("gstk", httpx.Response(500, json={"error": "boom"}))),
    "GSTK unreachable": Case(
        ["process", "1001", "--sandbox"], 1, "GSTK: cannot connect",
        on("gstk", httpx.ConnectError("refused"))),
    "LWA invalid_grant": Case(
        ["process", "1001", "--sandbox"], 1, "check SPAPI_REFRESH_TOKEN",
        on("lwa", httpx.Response(400, json={"error": "invalid_grant"}))),
    "LWA invalid_client": Case(
        ["process", "1001", "--sandbox"], 1, "check LWA_CLIENT_ID and LWA_CLIENT_SECRET",
        on("lwa", httpx.Response(401, json={"error": "invalid_client"}))),
    "SP-API order not found": Case(
        ["process", "1001", "--sandbox"], 4, "GSTK knows the order but Amazon does not",
        on("spapi", httpx.Response(404, json={"errors": [{"code": "NotFound"}]}), "/orders/")),
    "SP-API forbidden": Case(
        ["process", "1001", "--sandbox"], 1, "access denied",
        on("spapi", httpx.Response(403, json={"errors": [{"code": "Unauthorized"}]}))),
    "missing configuration": Case(
        ["process", "1001"], 1,
        "missing configuration: FRESHDESK_URL, FRESHDESK_API_KEY (see .env.example"),
    "http:// for a real host": Case(
        ["process", "1001"], 1, "FRESHDESK_URL must use https://",
        env={"FRESHDESK_URL": "http://example.com", "FRESHDESK_API_KEY": "k"}),
    "malformed JSON from Freshdesk": Case(
        ["process", "1001", "--sandbox"], 1, "Freshdesk: ticket 1001: the answer is not valid JSON",
        on("sandbox.freshdesk", not_json())),
    "malformed JSON from GSTK": Case(
        ["process", "1001", "--sandbox"], 1, "GSTK: look up Amazon order 402-3815274-6120358: "
        "the answer is not valid JSON", on("gstk", not_json())),
    "malformed JSON from Amazon": Case(
        ["process", "1001", "--sandbox"], 1, "Amazon: getOrder 402-3815274-6120358: the answer "
        "is not valid JSON", on("spapi", not_json(), "/orders/")),
    "order number typed wrong": Case(
        ["process", "1005", "--sandbox"], 3, "'12345' is not an Amazon order number",
        input="12345\n\n"),
    "template folder missing a language": Case(
        ["process", "1002", "--sandbox", "--lang", "de"], 1, "no 'de' reply template",
        templates={"fr": "Bonjour {{ order_id }}"}),
    "template with an undefined variable": Case(
        ["process", "1002", "--sandbox", "--lang", "de"], 1,
        "template de/cannot_cancel.txt.j2: 'nope' is undefined",
        templates={"de": "Hallo {{ nope }}", "fr": "x", "en": "x"}),
    "ticket text with markup and script": Case(
        ["process", "1011", "--sandbox"], 3,
        "[bold red]URGENT[/] annulez ma commande <script>alert(1)</script>", input="n\n"),
}


def Broken(home: Path, answer: Answer, **kwargs) -> FaultyTransport:  # noqa: N802
    """The sandbox behind a server that answers some requests its own (broken) way."""
    return FaultyTransport(home, answer=answer)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, isolated_env: Path, tmp_path: Path, monkeypatch) -> None:
    case = CASES[name]
    home = isolated_env
    if case.answer is not None:
        import cancelbot.sandbox.transport as transport

        monkeypatch.setattr(transport, "SandboxTransport",
                            lambda h, **kw: Broken(h, case.answer))
    env = dict(case.env)
    if case.templates is not None:
        folder = tmp_path / "templates"
        for lang, text in case.templates.items():
            (folder / lang).mkdir(parents=True)
            (folder / lang / "cannot_cancel.txt.j2").write_text(text, encoding="utf-8")
        env["CANCELBOT_TEMPLATES"] = str(folder)
    before = load(home)

    result = CliRunner().invoke(app, case.args, input=case.input, env=env)

    assert result.exit_code == case.code, result.output
    assert case.says in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    if case.code != 2:
        errors = [line for line in result.output.splitlines() if line.startswith("cancelbot:")]
        assert len(errors) <= 1, "one line"
    assert as_found(unflagged(load(home))) == as_found(unflagged(before)), "changed"
    for path in home.rglob(FILE_NAME):  # the journal of every world
        with Journal.open(path.parent) as journal:
            # At most the claim posted beside the lookups, and its withdrawal.
            events = journal.history()
            assert {e.step for e in events} <= {"claim_note", "unclaim_note"}
            for ticket_id in {e.ticket_id for e in events}:
                assert journal.last_job(ticket_id) is journal.open_job(ticket_id) is None
