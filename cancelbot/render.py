"""Results, rendered: for a person (Rich, readable at 80 columns) and for a program (`--json`).

Commands return data — an Outcome, a Queue, a Shift, a doctor Report — and render it here.
The JSON documents' field names are stable and documented in the README ("Machine-readable
output"); a new field may appear, none is renamed or removed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cancelbot.i18n import N_, _
from cancelbot.text import hide_secrets, visible
from cancelbot.when import duration

if TYPE_CHECKING:
    from cancelbot.doctor import Report
    from cancelbot.feeds import FollowUp
    from cancelbot.journal import Cancellation, Event, Feed
    from cancelbot.outcome import Outcome
    from cancelbot.queue import Queue, QueueEntry, Shift

KIND_LABELS = {
    "cancelled": N_("Cancelled"),
    "messaged": N_("Messaged"),
    "needs_human": N_("Needs a human"),
    "skipped": N_("Skipped"),
    "failed": N_("Failed"),
}
# How a decision and a GSTK status read on screen (their codes stay in JSON).
BRANCH_WORDS = {
    "cancel": N_("cancel"),
    "cannot_cancel": N_("cannot cancel"),
    "already_cancelled": N_("already cancelled"),
    "needs_human": N_("needs a human"),
    "already_done": N_("already done"),
}
KIND_STYLES = {"cancelled": "green", "messaged": "cyan", "needs_human": "yellow",
               "skipped": "dim", "failed": "red"}
NARROW = 60  # columns below which label/value tables become lines (values are never cut)
MARKS = {"ok": ("✓", "green"), "failed": ("✗", "bold red"), "warning": ("!", "yellow"),
         "info": ("·", "dim")}


# -- durations ------------------------------------------------------------------------------


def time_left(entry: QueueEntry, now: datetime) -> Text:
    left = entry.time_left(now)
    if left is None:
        return Text("?", style="dim")
    style = "bold red" if entry.urgent(now) else ""
    return Text(f"late {duration(left)}" if left.total_seconds() < 0 else duration(left),
                style=style)


def seconds(value: float) -> str:
    value = round(value)
    return f"{value} s" if value < 60 else f"{value // 60} min {value % 60:02d} s"


# -- one ticket (process) -------------------------------------------------------------------


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """`process --json`: what was read, decided, planned and done. When the run stopped, the
    fields known until then are filled and `error` says why."""
    gstk, amazon = outcome.gstk, outcome.amazon
    return {
        "ticket_id": outcome.ticket_id,
        "dry_run": outcome.dry_run,
        "order_id": outcome.order_id or None,
        "decision": {"branch": outcome.branch, "reason": outcome.reason}
        if outcome.branch else None,
        "statuses": {
            "gstk": None if gstk is None else {
                "id": gstk.id, "label": gstk.label,
                "status": gstk.status.value if gstk.status else None,
            },
            "amazon": None if amazon is None else {
                "fulfillment_status": amazon.fulfillment_status,
                "buyer_requested_cancel": amazon.buyer_requested_cancel,
                "marketplace_id": amazon.marketplace_id,
            },
            "amazon_lookup": outcome.amazon_lookup,  # found | not_found | not_checked
            "marketplace": outcome.marketplace or None,
        } if outcome.looked_up else None,
        "language": {"code": outcome.language, "why": outcome.language_why}
        if outcome.language else None,
        "message": outcome.message or None,
        "planned": list(outcome.planned),
        "done": [{"system": a.system, "what": a.what, "ref": a.ref} for a in outcome.actions],
        "links": {k: v for k, v in vars(outcome.links).items() if v},
        "exit_code": outcome.exit_code,
        "error": error_text(outcome.error) if outcome.error is not None
        else "interrupted" if outcome.interrupted else None,
        "unsure": list(outcome.unsure),  # asked, never answered: re-checked by the rerun
    }


def render_stopped(console: Console, outcome: Outcome) -> None:
    """A run that stopped: its one line on stderr (the error, or what Ctrl-C left)."""
    if outcome.interrupted:
        console.print(Text(f"\ncancelbot: interrupted. {interrupted_message(outcome)}",
                           style="yellow"), soft_wrap=True)
    elif outcome.error is not None:
        console.print(Text(f"cancelbot: {error_text(outcome.error)}", style="red"),
                      soft_wrap=True)


def error_text(error: BaseException) -> str:
    """An error's text as it may leave the process: no secret (in any form), no control
    character a terminal would obey. ServiceError does this already; this covers the rest."""
    return visible(hide_secrets(str(error)))


def interrupted_message(outcome: Outcome) -> str:
    """After Ctrl-C: what is done, what is unknown (re-checked on the rerun), and the command."""
    done = [f"{a.system}: {a.what}" for a in outcome.actions]
    if outcome.claimed:
        done.append(_("Freshdesk: ticket claimed ('handling' note {id})").format(
            id=outcome.claimed))
    text = _("Done so far — {done}. ").format(done="; ".join(done)) if done \
        else _("Nothing was changed. ")
    if outcome.unsure:
        text += _("Not known yet (re-checked before anything is redone) — {unsure}. ").format(
            unsure="; ".join(outcome.unsure))
    if done or outcome.unsure:
        return text + _("Rerun `{command}` to finish: it re-checks every unfinished step "
                        "against Freshdesk, GSTK and Amazon before doing it.").format(
            command=outcome.rerun)
    return text + _("Run `{command}` to start again.").format(command=outcome.rerun)


# -- the queue ------------------------------------------------------------------------------


def queue_document(queue: Queue) -> dict[str, Any]:
    """`queue --list --json`: the entries in the order the shift takes them."""
    now = queue.now
    tickets = []
    for entry in queue.entries:
        t = entry.ticket
        age, left = entry.age(now), entry.time_left(now)
        received = entry.received_at
        triage = entry.triage
        tickets.append({
            "ticket_id": entry.id,
            "subject": entry.subject,
            "url": entry.url,
            "created_at": received.isoformat().replace("+00:00", "Z") if received else None,
            "age_minutes": None if age is None else int(age.total_seconds() // 60),
            "minutes_left": None if left is None else int(left.total_seconds() // 60),
            "urgent": entry.urgent(now),
            "matched_by": list(entry.matched_by),
            "responder_id": t.responder_id if t is not None else None,
            "tags": list(t.tags) if t is not None else [],
            "skip": entry.skip or None,
            "stale_claim": entry.stale_claim or None,
            "needs_person": entry.needs_person or None,
            "order_id": entry.order_id,
            "source": entry.source,
            "gstk_status": triage.gstk.value if triage is not None and triage.gstk else None,
            "cancellable": entry.cancellable,
            "why": entry.standing,
        })
    discovery = queue.discovery
    return {
        "query": queue.query,
        "total": queue.total,
        "read": queue.read,
        "truncated": queue.truncated,
        "to_do": len(queue.todo),
        "skipped": len(queue.entries) - len(queue.todo),
        "generated_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "tickets": tickets,
        "stale_claims": sum(1 for e in queue.entries if e.stale_claim),
        "needs_person": sum(1 for e in queue.entries if e.needs_person),
        "amazon_search": None if discovery is None else {
            "searched": discovery.searched,
            "new": list(discovery.new),
            "next_in_seconds": round(discovery.next_in),
            "problem": discovery.problem or None,
        },
    }


def truncation_warning(queue: Queue) -> str:
    return (f"Freshdesk counts {queue.total} tickets for {queue.query!r} but its search stops "
            f"at 10 pages of 30: only {queue.read} were read, newest first, so the oldest may "
            "be missing. Narrow the query (--query, CANCELBOT_QUEUE_QUERY), e.g. "
            "status:2 AND tag:'amazon'.")


GSTK_SHORT = {"awaiting_preparation": "awaiting", "in_preparation": "in prep.",
              "prepared": "prepared", "shipped": "shipped", "cancelled": "cancelled"}


def gstk_cell(entry: QueueEntry) -> Text:
    """The entry's GSTK status in a word: green while it can still be cancelled."""
    triage = entry.triage
    if triage is None or triage.gstk is None:
        return Text("?", style="dim")
    return Text(GSTK_SHORT[triage.gstk.value], style="bold green" if entry.cancellable else "")


def discovery_line(queue: Queue) -> Text | None:
    """What the look at Amazon found, in one line (None when there is no SP-API)."""
    found = queue.discovery
    if found is None:
        return None
    amazon = sum(1 for e in queue.entries if e.ticket is None)
    line = Text("Amazon: ", style="dim")
    line.append(f"{amazon} buyer's request(s) no ticket names yet · ", style="dim")
    if found.searched:
        line.append("searched just now", style="dim")
    else:
        line.append(f"next search in {duration(timedelta(seconds=found.next_in))} "
                    "(Amazon allows one every 3 min)", style="dim")
    if found.problem:
        line.append(f"\n{found.problem}", style="yellow")
    return line


def render_queue(console: Console, queue: Queue) -> None:
    now = queue.now
    todo, skipped = len(queue.todo), len(queue.entries) - len(queue.todo)
    amazon = discovery_line(queue)
    if not queue.entries:
        console.print(Text(f"No open cancellation request (search {queue.query!r}: "
                           f"{queue.read} ticket(s) read, none looks like one)."))
        if amazon is not None:
            console.print(amazon)
        return
    stale = sum(1 for e in queue.entries if e.stale_claim)
    person = sum(1 for e in queue.entries if e.needs_person)
    order = ("cancellable first, then by Amazon's 24-h answer deadline" if queue.triaged
             else "oldest first · Amazon expects an answer within 24 h")
    console.print(Text.assemble(
        (f"{todo} to do", "bold"),
        f" · {skipped} skipped",
        (f" · {stale} with a stale claim", "red") if stale else "",
        (f" · {person} left to a person", "red") if person else "",
        f" · {order}",
    ))
    if amazon is not None:
        console.print(amazon)
    rows: list[tuple[Text, Text, Text, Text, QueueEntry]] = []
    for entry in queue.entries:
        age = entry.age(now)
        url = entry.url
        rows.append((Text(entry.label, style=f"link {url}" if url else ""),
                     gstk_cell(entry) if queue.triaged else Text(""),
                     Text(f"{duration(age)} ago" if age is not None else "?"),
                     time_left(entry, now), entry))
    # The subject is cut to what is left of the line (Rich's own no-wrap collapsing would
    # squeeze the narrow columns away first).
    titles = ("Ticket", "GSTK", "Received", "Left") if queue.triaged \
        else ("Ticket", "Received", "Left")
    plain = [tuple(cell.plain for cell in row[:4] if queue.triaged or cell is not row[1])
             for row in rows]
    fixed = [max(len(title), *(len(cells[i]) for cells in plain))
             for i, title in enumerate(titles)]
    room = max(20, console.width - sum(fixed) - 2 * len(titles) - 2)
    table = Table(box=None, padding=(0, 1), header_style="bold")
    table.add_column("Ticket", no_wrap=True, overflow="fold")
    if queue.triaged:
        table.add_column("GSTK", no_wrap=True, overflow="fold")
    table.add_column("Received", no_wrap=True, justify="right", overflow="fold")
    table.add_column("Left", no_wrap=True, justify="right", overflow="fold")
    table.add_column("Subject", overflow="fold")
    for label, gstk, age_text, left, entry in rows:
        subject = Text(entry.subject or "(no subject)", style="dim" if entry.skip else "")
        subject.truncate(room, overflow="ellipsis")
        if entry.skip:
            subject.append(f"\nskip: {entry.skip}", style="yellow")
        elif queue.triaged:
            why = Text(entry.standing, style="green" if entry.cancellable else "dim")
            why.truncate(room, overflow="ellipsis")
            subject.append("\n")
            subject.append_text(why)
        if entry.stale_claim:
            subject.append(f"\nstale claim: {entry.stale_claim}", style="red")
        if entry.needs_person:
            subject.append(f"\nneeds a person: {entry.needs_person}", style="red")
        cells = (label, gstk, age_text, left) if queue.triaged else (label, age_text, left)
        table.add_row(*cells, subject)
    console.print(table)


# -- the shift summary ------------------------------------------------------------------------


def render_shift(console: Console, shift: Shift) -> None:
    console.print()
    processed = [r for r in shift.results if r.seconds is not None]
    head = Text("Shift summary", style="bold")
    head.append(f" · {len(processed)} processed in {seconds(shift.seconds)}")
    if shift.median_seconds is not None:
        head.append(f" · median {seconds(shift.median_seconds)} per ticket")
    if shift.arrived:
        head.append(f" · {shift.arrived} arrived while watching")
    console.rule(head, align="left")
    counts = Table.grid(padding=(0, 2))
    counts.add_column(overflow="fold")
    counts.add_column(justify="right", overflow="fold")
    for kind, label in KIND_LABELS.items():
        n = len(shift.of(kind))
        counts.add_row(Text(label, style=KIND_STYLES[kind] if n else "dim"), str(n))
    if shift.not_reached:
        why = " (interrupted)" if shift.interrupted else " (you quit)" if shift.quit else ""
        counts.add_row(Text(f"Not reached{why}", style="dim"), str(len(shift.not_reached)))
    console.print(counts)
    if shift.results or shift.not_reached:
        console.print()
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True, overflow="fold")
    lines.add_column(no_wrap=True, overflow="fold")
    lines.add_column(ratio=1, overflow="fold")
    for result in shift.results:
        detail = Text(result.detail)
        if result.url:
            detail.append("\n")
            detail.append_text(linkified(result.url, style="dim"))
        lines.add_row(Text(result.label, style="bold"),
                      Text(KIND_LABELS[result.kind].lower(), style=KIND_STYLES[result.kind]),
                      detail)
    console.print(lines)
    if shift.not_reached:
        left = Text("Not reached: ", style="dim")
        for n, entry in enumerate(shift.not_reached):
            left.append(", " if n else "")
            name = entry.label if entry.ticket is not None else f"Amazon {entry.order_id}"
            left.append(name, style=f"link {entry.url}" if entry.url else "")
        left.append(" — `cancelbot queue` shows them again.", style="dim")
        console.print(left)
    if shift.interrupted:
        console.print(Text("Interrupted: the ticket in progress changed nothing after its "
                           "last confirmed step; `cancelbot queue` picks up what is left.",
                           style="yellow"))


# -- doctor ---------------------------------------------------------------------------------


def doctor_document(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "version": report.version,
        "sandbox": report.sandbox,
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                   for c in report.checks],
        "steps": report.steps,
        "templates": {"folder": report.templates_folder or None,
                      "languages": report.templates},
        "journal": report.journal,
    }


def render_doctor(console: Console, report: Report) -> None:
    title = f"cancelbot {report.version} · doctor" + (" · sandbox" if report.sandbox else "")
    console.print(Text(title, style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(ratio=1, overflow="fold")
    for check in report.checks:
        mark, style = MARKS[check.status]
        grid.add_row(Text(mark, style=style), Text(check.name, style="bold"),
                     linkified(check.detail))
    console.print(grid)
    verdict = "Ready." if report.ok else "Something a configured service needs is broken (✗)."
    console.print(Text(verdict, style="green" if report.ok else "bold red"))


# -- templates ------------------------------------------------------------------------------


def render_templates(console: Console, folder: str, rows: list[dict[str, Any]]) -> None:
    console.print(Text.assemble(("Reply templates", "bold"), f" in {folder}"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(ratio=1, overflow="fold")
    for row in rows:
        mark, style = MARKS["ok" if row["renders"] else "failed"]
        used = ", ".join(row["marketplaces"]) or "only with --lang or the buyer's locale"
        text = Text.assemble((f"{mark} ", style), (row["language"], "bold"),
                             f" ({row['name']})")
        detail = Text(f"{row['path']}\nused for: {used}, and every buyer whose language on "
                      f"Amazon is {row['name']}")
        if row["error"]:
            detail.append(f"\n{row['error']}", style="red")
        grid.add_row(text, detail)
    console.print(grid)


def warning(text: str) -> Text:
    return Text(text, style="yellow")


def from_journal(value: str | None) -> str:
    """A text read back from the journal, as a screen or a document may show it. An older
    version may have written a server's error with a secret in it, or a control character:
    hidden and made visible here, with today's secrets."""
    return visible(hide_secrets(value)) if value else ""


def history_document(events: list, ticket_id: int | None) -> dict[str, Any]:
    """`history --json`: the journal's events, oldest first (ids and steps, no message text)."""
    fields = ("at", "ticket_id", "order_id", "job_id", "step", "phase", "ref", "detail", "agent")
    return {
        "ticket_id": ticket_id,
        "events": [{name: from_journal(value) if isinstance(value := getattr(e, name), str)
                    else value for name in fields} for e in events],
    }


def render_outcome(console: Console, outcome: Outcome) -> None:
    """The summary: what was done on which system, and the links. Ids and URLs are never
    cut: on a narrow terminal each value stands on its own line, under its label."""
    console.print()
    title = _("Dry run — nothing changed") if outcome.dry_run else _("Summary")
    rows: list[tuple[str, Text]] = [
        (_("Ticket"), Text(f"#{outcome.ticket_id}")) if outcome.ticket_id is not None
        else (_("Request"), Text(_("the buyer's, on Amazon (no ticket yet)")))]
    if outcome.order_id:
        rows.append((_("Order"), Text(outcome.order_id)))
    if outcome.branch:
        reason = outcome.decision.in_words(_)[0] if outcome.decision else _(outcome.reason)
        branch = _(BRANCH_WORDS.get(outcome.branch, outcome.branch))
        rows.append((_("Decision"), Text(f"{branch} — {reason}")))
    if outcome.language:
        rows.append((_("Language"), Text(outcome.language)))
    if outcome.actions:
        for action in outcome.actions:
            ref = f" [{action.ref}]" if action.ref and action.ref not in action.what else ""
            rows.append((action.system, Text(f"{action.what}{ref}")))
    elif outcome.dry_run and outcome.planned:
        rows.extend((_("Would"), Text(line)) for line in outcome.planned)
    else:
        rows.append((_("Changes"), Text(_("none"))))
    for name, url in (
        (_("Ticket link"), outcome.links.ticket),
        (_("GSTK order"), outcome.links.gstk_order),
        ("Seller Central", outcome.links.seller_central_order),
    ):
        if url:
            rows.append((name, Text(url, style=f"link {url}")))
    if console.width < NARROW:
        console.rule(Text(title, style="bold"), align="left")
        for name, value in rows:
            console.print(Text(name, style="bold"))
            console.print(Text("  ").append_text(value), overflow="fold")
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    console.print(Panel(table, title=title, title_align="left"))


def render_history(console: Console, events: Sequence[Event], ticket_id: int | None) -> None:
    """`cancelbot history`: the journal, oldest first; every cell is data, never markup."""
    if not events:
        where = f" for ticket #{ticket_id}" if ticket_id else ""
        console.print(f"Nothing in the journal{where}: cancelbot changed nothing here.")
        return
    table = Table(box=None, padding=(0, 1, 0, 0), header_style="bold")
    for name in ("When (UTC)", "Ticket", "Order", "Step", "Result"):
        table.add_column(name, no_wrap=True, overflow="fold")
    table.add_column("Ref · detail", overflow="fold")
    events = [dataclasses.replace(
        e, at=from_journal(e.at), job_id=from_journal(e.job_id), step=from_journal(e.step),
        phase=from_journal(e.phase), order_id=from_journal(e.order_id), ref=from_journal(e.ref),
        detail=from_journal(e.detail), agent=from_journal(e.agent)) for e in events]
    by_one = len({e.agent for e in events}) == 1
    if not by_one:
        table.add_column("By", overflow="fold")
    styles = {"done": "green", "intent": "yellow", "failed": "red", "error": "bold red",
              "queued": "yellow"}
    for e in events:
        ref = " · ".join(part for part in (e.ref, e.detail) if part)
        cells = [Text(e.at[:19].replace("T", " ")), Text(_ticket(e.ticket_id)),
                 Text(e.order_id),
                 Text(e.step), Text(e.phase, style=styles.get(e.phase, "")), Text(ref)]
        table.add_row(*cells, *([] if by_one else [Text(e.agent)]))
    if by_one and events[0].agent:
        console.print(Text(f"Changes made by {events[0].agent}:", style="dim"))
    console.print(table)
    console.print(Text("intent without done: the run stopped there; the next `cancelbot "
                       "process` re-checks it before doing anything.", style="dim"))


def render_feeds(console: Console, follow_up: FollowUp, cancellations: Sequence[Cancellation],
                 feeds: Sequence[Feed], refused: Sequence[Cancellation] = ()) -> None:
    """`cancelbot feeds`: what was just done, where every cancellation stands, and in red each
    refusal whose ticket nobody has handled yet."""
    if follow_up.busy:
        console.print(Text("Another cancelbot is handling the feeds right now: showing the "
                           "journal as it is.", style="yellow"))
    listed = {row.order_id for row in refused}  # in red below
    cancellations, refused = [_shown_row(row) for row in cancellations], \
        [_shown_row(row) for row in refused]
    for level, text in follow_up.news:
        text = from_journal(text)
        if not (text.startswith("AMAZON DID NOT CANCEL")
                and any(f"order {order_id} " in text for order_id in listed)):
            console.print(Text(text, style="yellow" if level == "warn" else ""))
    if not cancellations:
        console.print("No Amazon cancellation in the journal.")
        return
    table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
    for name in ("Order", "Ticket", "State", "Feed", "Since (UTC)", "Amazon's answer"):
        table.add_column(name, overflow="fold")
    states = {"done": ("cancelled", "green"), "sent": ("sent, Amazon processing", "yellow"),
              "queued": ("queued (feed window)", "yellow"),
              "sending": ("unsure: rerun its ticket", "bold red"),
              "error": ("NOT CANCELLED", "bold red")}
    for row in cancellations:
        label, style = states.get(row.state, (row.state, ""))
        table.add_row(Text(row.order_id), Text(_ticket(row.ticket_id)),
                      Text(label, style=style),
                      Text(row.feed_id or ""), Text((row.sent_at or row.queued_at).replace(
                          "T", " ").rstrip("Z")), Text(row.result))
    console.print(table)
    pending = [f.feed_id for f in feeds if f.state == "pending"]
    if pending:
        console.print(Text(f"Still processing at Amazon: feed {', '.join(pending)}. Run "
                           "`cancelbot feeds` again later.", style="dim"))
    for row in refused:
        console.print(Text(
            f"AMAZON DID NOT CANCEL order {row.order_id} (ticket #{row.ticket_id}, feed "
            f"{row.feed_id or '—'}): {row.result}. The ticket is open again with a note saying "
            f"what to do: `cancelbot process {row.ticket_id}` offers it.", style="bold red"))


def _shown_row(row: Cancellation) -> Cancellation:
    """A cancellation read back from the journal, its texts as `from_journal` shows them."""
    return dataclasses.replace(row, order_id=from_journal(row.order_id),
                               feed_id=from_journal(row.feed_id) or None,
                               result=from_journal(row.result))


def _ticket(ticket_id: int | None) -> str:
    """A journal row's ticket; "Amazon" for an order-only job (a buyer's request on Amazon)."""
    return "Amazon" if ticket_id is None else f"#{ticket_id}"


_URL = re.compile(r"https?://[^\s<>()\"']+")


def linkified(text: str, style: str = "") -> Text:
    """`text` with every URL a terminal hyperlink; the URL stays visible, so a terminal without
    hyperlinks (or a pipe) shows it plainly."""
    out = Text(text, style=style)
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:")
        out.stylize(f"link {url}", match.start(), match.start() + len(url))
    return out


# -- long tables (`history`, `feeds`) ------------------------------------------------------------

PLAIN_ROWS = 200  # past this many rows, a table is printed as plain aligned lines


class TableConsole(Console):
    """A Console that prints a Table of more than PLAIN_ROWS rows as plain aligned lines.

    Rich lays out each cell of a table (measures it, wraps it, pads it): about a millisecond a
    row, 8 s for `history --limit 10000`. Past PLAIN_ROWS rows the same columns come out as
    aligned lines, 10 to 30 times faster: cells are not wrapped (a long line runs past the
    terminal's edge), styles are kept on a terminal, and a pipe gets the bare text.
    """

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if (len(objects) == 1 and not kwargs and isinstance(objects[0], Table)
                and objects[0].row_count > PLAIN_ROWS):
            _print_lines(self, objects[0])
            return
        super().print(*objects, **kwargs)


def _print_lines(console: Console, table: Table, chunk: int = 2000) -> None:
    columns = table.columns
    header_style = table.header_style or ""
    heads = [col.header if isinstance(col.header, Text)
             else Text(str(col.header), style=header_style) for col in columns]
    cells = [[c if isinstance(c, Text) else Text(str(c)) for c in col.cells] for col in columns]
    plain = [[h.plain, *(c.plain for c in column)] for h, column in zip(heads, cells, strict=True)]
    lengths = [[_width(text) for text in column] for column in plain]
    widths = [max(column) for column in lengths]
    gap = table.padding[1] if isinstance(table.padding, tuple) and len(table.padding) == 4 \
        else 1
    last = len(columns) - 1
    pads = [[" " * (widths[i] - n + gap) if i != last else "" for n in column]
            for i, column in enumerate(lengths)]
    rows = range(len(plain[0]) if plain else 0)  # row 0: the header
    if console.color_system is None and not console.record:  # a pipe: the text, written at once
        console.file.write("\n".join(
            "".join(column[r] + pads[i][r] for i, column in enumerate(plain)).rstrip()
            for r in rows) + "\n")
        console.file.flush()
        return
    grid = [heads, *([column[r] for column in cells] for r in range(len(cells[0]) if cells
                                                                    else 0))]
    for start in range(0, len(grid), chunk):
        text = Text(end="")
        for r in range(start, min(start + chunk, len(grid))):
            for i, cell in enumerate(grid[r]):
                text.append_text(cell)
                text.append(pads[i][r])
            text.append("\n")
        console.print(text, soft_wrap=True, highlight=False, markup=False, emoji=False,
                      end="")


def _width(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)
