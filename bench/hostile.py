"""Hostile ticket text, timed (issue 11): `python bench/hostile.py` (`--quick` for a smoke run).

Each adversarial body goes through what a run does with a ticket body: HTML to text, made
visible, the order-number search, and the ticket card drawn by the terminal agent (to a
string). Every step must take time in proportion to the input: the table shows MB and
seconds (CPU of this process, so other work on the machine counts less), and the largest
answer any service may send (services/freshdesk.py MAX_ANSWER_BYTES) bounds the size.
`--stdlib` adds the standard library's HTMLParser on small inputs, for comparison.

`--whole` times whole commands instead: for each body, `cancelbot process <id> --dry-run` in
a child process against the loopback fakes (bench/fakes.py), on a ticket whose description
is that body (and whose `description_text` is its text, as Freshdesk sends both): the wall
time of each of `--runs` runs, their median, the exit code and whether the order was found.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import tempfile
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
_SURROGATE = re.compile("[\ud800-\udfff]")
MAIL = ("<p>Bonjour,<br>je voudrais <b>annuler</b> ma commande &eacute;t&eacute;.</p>"
        "<div>Merci &amp; cordialement</div>\n")


def bodies(mb: float, order: str = ORDER) -> dict[str, str]:
    """Adversarial bodies of about `mb` megabytes, each with an order number at the end."""
    size = int(mb * 1_000_000)

    def fill(unit: str) -> str:
        return unit * (size // len(unit)) + f" {order}"

    return {
        "'<a' repeated": fill("<a"),
        "'<!--' repeated": fill("<!--"),
        "'<![' repeated": fill("<!["),
        "'<' repeated": fill("<"),
        "nested <div>": "<div>" * (size // 11) + order + "</div>" * (size // 11),
        "nested <b>": "<b>" * (size // 7) + order + "</b>" * (size // 7),
        "one paragraph": "<p>" + fill("mot "),
        "mail-like HTML": fill(MAIL),
        "'a<br>' repeated": fill("a<br>"),
        "'<b>x</b>' repeated": fill("<b>x</b>"),
        "ESC sequences": fill("\x1b[2J\x1b]0;x\x07"),
        "'&lt;' repeated": fill("&lt;"),
        "'<p>' unclosed": fill("<p>"),
        "'<script>' unclosed": fill("a<script>"),
        "'<!-- -->' repeated": fill("a<!-- c -->"),
        "'&#1;' repeated": fill("&#1;"),
        "'&#xD800;' repeated": fill("&#xD800;"),
        "NUL and ESC bytes": fill("a\x00\x1b"),
        "lone surrogates": fill("a\ud800"),
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


def whole(mb: float, runs: int) -> float:
    """`process <id> --dry-run` on a ticket whose description is each body; the worst median."""
    from bench.fakes import Fakes, make_world
    from bench.run import cancelbot_command, child_env

    world = make_world({"cancel": 1}, only_clones=True)
    (ticket_id,) = world.tickets["cancel"]
    ticket = world.store.state["freshdesk"]["tickets"][str(ticket_id)]
    (order,) = world.store.state["scenarios"][str(ticket_id)]["order_ids"]
    # The order number is at the end of the body only: "found" says the search reached it.
    ticket["subject"], ticket["conversations"] = "Annulation de commande", []
    print(f"`cancelbot process {ticket_id} --dry-run`, {runs} runs each, wall seconds")
    print(f"{'body':22} {'MB':>5} {'median':>7} {'CPU':>6}  runs{'':14} exit  found")
    worst = 0.0
    with Fakes(world) as fakes, tempfile.TemporaryDirectory() as work:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(Path(work) / "home")})
        command = [*cancelbot_command(), "process", str(ticket_id), "--dry-run"]
        shapes = {"(a normal ticket)": MAIL + order, **bodies(mb, order)}
        for name, markup in shapes.items():
            if _SURROGATE.search(markup):
                print(f"{name:22} (the fakes send UTF-8 JSON: no lone surrogate)")
                continue
            ticket["description"] = markup
            ticket["description_text"] = html_to_text(markup)
            seconds, cpu, codes, found = [], [], set(), True
            for _ in range(runs):
                used = _children_cpu()
                started = time.perf_counter()
                child = subprocess.run(command, env=env, cwd=work, capture_output=True,
                                       stdin=subprocess.DEVNULL, timeout=120)
                seconds.append(time.perf_counter() - started)
                cpu.append(_children_cpu() - used)
                codes.add(child.returncode)
                found = found and order in child.stdout.decode("utf-8", "replace")
                if child.returncode not in (0, 3):
                    said = child.stderr.decode("utf-8", "replace").strip().splitlines()
                    print(f"    {said[-1] if said else ''}")
            median = statistics.median(seconds)
            worst = max(worst, median)
            shown = " ".join(f"{s:.2f}" for s in seconds)
            print(f"{name:22} {len(markup) / 1e6:5.1f} {median:7.2f} {statistics.median(cpu):6.2f}"
                  f"  {shown:18} {','.join(map(str, sorted(codes))):5} {found}")
    print(f"worst median: {worst:.2f} s for {mb:g} MB (wall seconds of the whole command)")
    return worst


def _children_cpu() -> float:
    """CPU seconds of the finished children so far (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows: wall time only
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="size of each body (default 10)")
    parser.add_argument("--quick", action="store_true", help="0.2 MB bodies: a smoke run")
    parser.add_argument("--stdlib", action="store_true",
                        help="also time html.parser on 100 KB (it is quadratic: slow)")
    parser.add_argument("--whole", action="store_true",
                        help="time `cancelbot process --dry-run` on each body instead")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (--whole)")
    args = parser.parse_args(argv)
    mb = 0.2 if args.quick else args.mb
    if args.whole:
        whole(mb, args.runs)
        return 0
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
