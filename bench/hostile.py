"""Hostile ticket text, timed (issue 11): `python bench/hostile.py` (`--quick` for a smoke run).

Each adversarial body goes through what a run does with a ticket body: HTML to text, made
visible, the order-number search, and the ticket card drawn by the terminal agent (to a
string). Every step must take time in proportion to the input: the table shows MB and
seconds (CPU of this process, so other work on the machine counts less), and the largest
answer any service may send (services/freshdesk.py MAX_ANSWER_BYTES) bounds the size.
`--stdlib` adds the standard library's HTMLParser on small inputs, for comparison.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cancelbot.models import Ticket  # noqa: E402
from cancelbot.orders import find_order_numbers  # noqa: E402
from cancelbot.text import html_to_text, visible  # noqa: E402

ORDER = "402-1234567-1234567"
MAIL = ("<p>Bonjour,<br>je voudrais <b>annuler</b> ma commande &eacute;t&eacute;.</p>"
        "<div>Merci &amp; cordialement</div>\n")


def bodies(mb: float) -> dict[str, str]:
    """Adversarial bodies of about `mb` megabytes, each with an order number at the end."""
    size = int(mb * 1_000_000)

    def fill(unit: str) -> str:
        return unit * (size // len(unit)) + f" {ORDER}"

    return {
        "'<a' repeated": fill("<a"),
        "'<!--' repeated": fill("<!--"),
        "'<![' repeated": fill("<!["),
        "'<' repeated": fill("<"),
        "nested <div>": "<div>" * (size // 11) + ORDER + "</div>" * (size // 11),
        "one paragraph": "<p>" + fill("mot "),
        "mail-like HTML": fill(MAIL),
        "'a<br>' repeated": fill("a<br>"),
        "'<b>x</b>' repeated": fill("<b>x</b>"),
        "ESC sequences": fill("\x1b[2J\x1b]0;x\x07"),
        "'&lt;' repeated": fill("&lt;"),
    }


def card(text: str) -> int:
    """The ticket card as the terminal agent draws it; the characters drawn."""
    from rich.console import Console

    from cancelbot.ui import TerminalAgent

    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False)
    ticket = Ticket(1, "subject", text, 2, "a@b.c", "name", datetime.now(timezone.utc))
    TerminalAgent(console).show_ticket(ticket)
    return len(out.getvalue())


def timed(step: Callable[[], object]) -> tuple[float, object]:
    started = time.process_time()
    result = step()
    return time.process_time() - started, result


def stdlib_seconds(markup: str) -> float:
    from html.parser import HTMLParser

    started = time.process_time()
    try:
        parser = HTMLParser()
        parser.feed(markup)
        parser.close()
    except AssertionError:  # '<![' on the Python versions cancelbot supports
        return float("nan")
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of each body (default 10)")
    parser.add_argument("--quick", action="store_true", help="0.2 MB bodies: a smoke run")
    parser.add_argument("--stdlib", action="store_true",
                        help="also time html.parser on 100 KB (it is quadratic: slow)")
    args = parser.parse_args(argv)
    mb = 0.2 if args.quick else args.mb
    print(f"{'body':22} {'MB':>5} {'to text':>8} {'visible':>8} {'orders':>8} {'card':>8} "
          f"{'total':>8}  found  drawn")
    worst = 0.0
    for name, markup in bodies(mb).items():
        t_text, text = timed(lambda m=markup: html_to_text(m))
        t_visible, shown = timed(lambda t=text: visible(t))
        t_orders, found = timed(lambda t=shown: find_order_numbers(t))
        t_card, drawn = timed(lambda t=shown: card(t))
        total = t_text + t_visible + t_orders + t_card
        worst = max(worst, total)
        print(f"{name:22} {len(markup) / 1e6:5.1f} {t_text:8.3f} {t_visible:8.3f} "
              f"{t_orders:8.3f} {t_card:8.3f} {total:8.3f}  {ORDER in found!s:5}  {drawn}")
    print(f"worst: {worst:.2f} s for {mb:g} MB (CPU seconds of this process)")
    if args.stdlib:
        print("\nhtml.parser (the standard library, before), 100 KB:")
        for name, markup in bodies(0.1).items():
            if "repeated" in name and "<" in name:
                print(f"  {name:22} {stdlib_seconds(markup):8.3f} s (nan: AssertionError)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
