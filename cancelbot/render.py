"""Results, rendered: for a person (Rich, readable at 80 columns) and for a program (`--json`).

Commands return data — an Outcome, a Queue, a Shift, a doctor Report — and render it here.
The JSON documents' field names are stable and documented in the README ("Machine-readable
output"); a new field may appear, none is renamed or removed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from msgspec import structs
from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cancelbot.i18n import N_, Np_, _, ngettext, p_
from cancelbot.text import hide_secrets, visible
from cancelbot.when import clock_time, duration

if TYPE_CHECKING:
    from cancelbot.changes import Change
    from cancelbot.doctor import Report
    from cancelbot.feeds import FollowUp
    from cancelbot.journal import Cancellation, Feed
    from cancelbot.outcome import Outcome
    from cancelbot.queue import Queue, QueueEntry, Shift

KIND_LABELS = {
    "cancelled": N_("Cancelled"),
    "messaged": N_("Messaged"),
    "needs_human": N_("Needs a human"),
    "skipped": N_("Skipped"),
    "failed": N_("Failed"),
}
# What happened to one entry, on its line of the shift's summary ("#1009  cancelled  …").
KIND_WORDS = {
    "cancelled": Np_("shift entry", "cancelled"),
    "messaged": Np_("shift entry", "messaged"),
    "needs_human": Np_("shift entry", "needs a human"),
    "skipped": Np_("shift entry", "skipped"),
    "failed": Np_("shift entry", "failed"),
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
    return Text(_("late {duration}").format(duration=duration(left))
                if left.total_seconds() < 0 else duration(left), style=style)


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
        "links": {k: v for k, v in structs.asdict(outcome.links).items() if v},
        "exit_code": outcome.exit_code,
        "error": error_text(outcome.error) if outcome.error is not None
        else "interrupted" if outcome.interrupted else None,
        "unsure": list(outcome.unsure),  # asked, never answered: re-checked by the rerun
    }


def render_stopped(console: Console, outcome: Outcome) -> None:
    """A run that stopped: its one line on stderr (the error, or what Ctrl-C left)."""
    if outcome.interrupted:
        console.print(Text("\ncancelbot: " + _("interrupted.") + f" {interrupted_message(outcome)}",
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
    return _("Freshdesk counts {total} tickets for {query!r} but its search stops at 10 pages "
             "of 30: only {read} were read, newest first, so the oldest may be missing. Narrow "
             "the query (--query, CANCELBOT_QUEUE_QUERY), e.g. status:2 AND tag:'amazon'."
             ).format(total=queue.total, query=queue.query, read=queue.read)


GSTK_SHORT = {"awaiting_preparation": N_("awaiting"), "in_preparation": N_("in prep."),
              "prepared": N_("prepared"), "shipped": N_("shipped"), "cancelled": N_("cancelled")}


def gstk_cell(entry: QueueEntry) -> Text:
    """The entry's GSTK status in a word: green while it can still be cancelled."""
    triage = entry.triage
    if triage is None or triage.gstk is None:
        return Text("?", style="dim")
    return Text(_(GSTK_SHORT[triage.gstk.value]),
                style="bold green" if entry.cancellable else "")


def discovery_line(queue: Queue) -> Text | None:
    """What the look at Amazon found, in one line (None when there is no SP-API)."""
    found = queue.discovery
    if found is None:
        return None
    amazon = sum(1 for e in queue.entries if e.ticket is None)
    line = Text(_("Amazon: "), style="dim")
    line.append(ngettext("{count} buyer's request no ticket names yet",
                         "{count} buyers' requests no ticket names yet", amazon).format(
        count=amazon) + " · ", style="dim")
    if found.searched:
        line.append(_("searched just now"), style="dim")
    else:
        line.append(_("next search in {duration} (Amazon allows one every 3 min)").format(
            duration=duration(timedelta(seconds=found.next_in))), style="dim")
    if found.problem:
        line.append(f"\n{found.problem}", style="yellow")
    return line


def render_queue(console: Console, queue: Queue) -> None:
    now = queue.now
    todo, skipped = len(queue.todo), len(queue.entries) - len(queue.todo)
    amazon = discovery_line(queue)
    if not queue.entries:
        console.print(Text(ngettext(
            "No open cancellation request (search {query!r}: {count} ticket read, it does not "
            "look like one).",
            "No open cancellation request (search {query!r}: {count} tickets read, none looks "
            "like one).", queue.read).format(query=queue.query, count=queue.read)))
        if amazon is not None:
            console.print(amazon)
        return
    stale = sum(1 for e in queue.entries if e.stale_claim)
    person = sum(1 for e in queue.entries if e.needs_person)
    order = (_("cancellable first, then by Amazon's 24-h answer deadline") if queue.triaged
             else _("oldest first · Amazon expects an answer within 24 h"))
    console.print(Text.assemble(
        (_("{count} to do").format(count=todo), "bold"),
        " · " + ngettext("{count} skipped", "{count} skipped", skipped).format(count=skipped),
        (" · " + ngettext("{count} with a stale claim", "{count} with a stale claim",
                          stale).format(count=stale), "red") if stale else "",
        (" · " + ngettext("{count} left to a person", "{count} left to a person",
                          person).format(count=person), "red") if person else "",
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
                     Text(_("{duration} ago").format(duration=duration(age))
                          if age is not None else "?"),
                     time_left(entry, now), entry))
    # The subject is cut to what is left of the line (Rich's own no-wrap collapsing would
    # squeeze the narrow columns away first).
    titles = (_("Ticket"), "GSTK", _("Received"), _("Left")) if queue.triaged \
        else (_("Ticket"), _("Received"), _("Left"))
    plain = [tuple(cell.plain for cell in row[:4] if queue.triaged or cell is not row[1])
             for row in rows]
    fixed = [max(len(title), *(len(cells[i]) for cells in plain))
             for i, title in enumerate(titles)]
    room = max(20, console.width - sum(fixed) - 2 * len(titles) - 2)
    table = Table(box=None, padding=(0, 1), header_style="bold")
    table.add_column(titles[0], no_wrap=True, overflow="fold")
    if queue.triaged:
        table.add_column("GSTK", no_wrap=True, overflow="fold")
    table.add_column(titles[-2], no_wrap=True, justify="right", overflow="fold")
    table.add_column(titles[-1], no_wrap=True, justify="right", overflow="fold")
    table.add_column(_("Subject"), overflow="fold")
    for label, gstk, age_text, left, entry in rows:
        subject = Text(entry.subject or _("(no subject)"), style="dim" if entry.skip else "")
        subject.truncate(room, overflow="ellipsis")
        if entry.skip:
            subject.append("\n" + _("skip: {reason}").format(reason=entry.skip), style="yellow")
        elif queue.triaged:
            why = Text(entry.standing, style="green" if entry.cancellable else "dim")
            why.truncate(room, overflow="ellipsis")
            subject.append("\n")
            subject.append_text(why)
        if entry.stale_claim:
            subject.append("\n" + _("stale claim: {who}").format(who=entry.stale_claim),
                           style="red")
        if entry.needs_person:
            subject.append("\n" + _("needs a person: {why}").format(why=entry.needs_person),
                           style="red")
        cells = (label, gstk, age_text, left) if queue.triaged else (label, age_text, left)
        table.add_row(*cells, subject)
    console.print(table)


# -- the shift summary ------------------------------------------------------------------------


def render_shift(console: Console, shift: Shift) -> None:
    console.print()
    processed = [r for r in shift.results if r.seconds is not None]
    head = Text(_("Shift summary"), style="bold")
    head.append(" · " + ngettext("{count} processed in {time}", "{count} processed in {time}",
                                 len(processed)).format(count=len(processed),
                                                        time=seconds(shift.seconds)))
    if shift.median_seconds is not None:
        head.append(" · " + _("median {time} per ticket").format(
            time=seconds(shift.median_seconds)))
    if shift.arrived:
        head.append(" · " + ngettext("{count} arrived while watching",
                                     "{count} arrived while watching", shift.arrived).format(
            count=shift.arrived))
    console.rule(head, align="left")
    counts = Table.grid(padding=(0, 2))
    counts.add_column(overflow="fold")
    counts.add_column(justify="right", overflow="fold")
    for kind, label in KIND_LABELS.items():
        n = len(shift.of(kind))
        counts.add_row(Text(_(label), style=KIND_STYLES[kind] if n else "dim"), str(n))
    if shift.not_reached:
        why = _("Not reached (interrupted)") if shift.interrupted \
            else _("Not reached (you quit)") if shift.quit else _("Not reached")
        counts.add_row(Text(why, style="dim"), str(len(shift.not_reached)))
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
                      Text(p_("shift entry", KIND_WORDS[result.kind]),
                           style=KIND_STYLES[result.kind]),
                      detail)
    console.print(lines)
    if shift.not_reached:
        left = Text(_("Not reached: "), style="dim")
        for n, entry in enumerate(shift.not_reached):
            left.append(", " if n else "")
            name = entry.label if entry.ticket is not None else f"Amazon {entry.order_id}"
            left.append(name, style=f"link {entry.url}" if entry.url else "")
        left.append(" — " + _("`cancelbot queue` shows them again."), style="dim")
        console.print(left)
    if shift.interrupted:
        console.print(Text(_("Interrupted: the ticket in progress changed nothing after its "
                             "last confirmed step; `cancelbot queue` picks up what is left."),
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
    title = f"cancelbot {report.version} · doctor" + (" · " + _("sandbox") if report.sandbox
                                                       else "")
    console.print(Text(title, style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(ratio=1, overflow="fold")
    for check in report.checks:
        mark, style = MARKS[check.status]
        grid.add_row(Text(mark, style=style), Text(_(check.name), style="bold"),
                     linkified(check.detail))
    console.print(grid)
    verdict = _("Ready.") if report.ok \
        else _("Something a configured service needs is broken (✗).")
    console.print(Text(verdict, style="green" if report.ok else "bold red"))


# -- templates ------------------------------------------------------------------------------


def render_templates(console: Console, folder: str, rows: list[dict[str, Any]]) -> None:
    console.print(Text.assemble((_("Reply templates"), "bold"),
                                " " + _("in {folder}").format(folder=folder)))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, overflow="fold")
    grid.add_column(ratio=1, overflow="fold")
    for row in rows:
        mark, style = MARKS["ok" if row["renders"] else "failed"]
        used = ", ".join(row["marketplaces"]) or _("only with --lang or the buyer's locale")
        text = Text.assemble((f"{mark} ", style), (row["language"], "bold"),
                             f" ({row['name']})")
        detail = Text(row["path"] + "\n" + _(
            "used for: {marketplaces}, and every buyer whose language on Amazon is {language}"
        ).format(marketplaces=used, language=_(row["name"])))
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
    console.print(Panel(table, title=Text(title), title_align="left"))  # as written: no markup


# What each journal step changed, for `history` (the JSON keeps the step names).
CHANGE_WORDS = {
    "claim": N_("Freshdesk: ticket assigned"),
    "claim_note": N_("Freshdesk: 'handling' note"),
    "unclaim_note": N_("Freshdesk: 'handling' note removed"),
    "unclaim": N_("Freshdesk: assignment given back"),
    "gstk_cancel": N_("GSTK: cancel the order"),
    "amazon_cancel": N_("Amazon: cancel the order"),
    "amazon_feed": N_("Amazon: cancellation feed"),
    "reply": N_("Freshdesk: reply to the buyer"),
    "note": N_("Freshdesk: private note"),
    "status": N_("Freshdesk: ticket status"),
    "error_note": N_("Freshdesk: note on Amazon's refusal"),
    "reopen": N_("Freshdesk: ticket reopened"),
}
RESULT_WORDS = {"done": (N_("done"), "green"), "failed": (N_("failed"), "red"),
                "error": (N_("refused"), "bold red"), "queued": (N_("queued"), "yellow"),
                "unknown": (N_("unknown"), "bold yellow")}
_STATUS_SET = re.compile(r"^set to (open|pending|resolved|closed)\b")
# Freshdesk's ticket statuses as a person reads them (TicketStatus's names, lower case): the one
# table of their words (the history, the ticket card, "already closed").
STATUS_NAMES = {"open": N_("open"), "pending": N_("pending"), "resolved": N_("resolved"),
                "closed": N_("closed")}


def change_words(change: Change, say: Callable[[str], str] = _) -> str:
    """What a change changed, in the agent's words (`say`), with the id that names it."""
    step = change.step.split(" ", 1)[0]  # "reopen 402-…": the order is in its own column
    words = say(CHANGE_WORDS[step]) if step in CHANGE_WORDS else change.step
    if step == "amazon_feed" and change.detail == "Amazon processed it":  # feeds.py's words
        words = say(N_("Amazon: feed processed"))  # not a second sending of the same feed
    status = _STATUS_SET.match(change.detail)
    if step == "status" and status:
        return f"{words} → {say(STATUS_NAMES[status.group(1)])}"
    # The id that names what was changed: GSTK's order, Amazon's feed (not a batch's).
    named = step in ("gstk_cancel", "amazon_cancel", "amazon_feed") and change.result != "unknown"
    return f"{words} {change.ref}" if named and change.ref else words


def render_history(console: Console, changes: Sequence[Change], ticket_id: int | None) -> None:
    """`cancelbot history`: one line per change, oldest first, at local time; every cell is
    data, never markup. Columns that would say the same on every line are said once above."""
    if not changes:
        where = _(" for ticket #{id}").format(id=ticket_id) if ticket_id else ""
        console.print(Text(_("Nothing in the journal{where}: cancelbot changed nothing "
                             "here.").format(where=where)))
        return
    # Read back from the journal: an older version may have written a secret or a control
    # character into it (from_journal hides and shows them as today's rules say).
    changes = [structs.replace(
        c, order_id=from_journal(c.order_id), step=from_journal(c.step), ref=from_journal(c.ref),
        detail=from_journal(c.detail), agent=from_journal(c.agent)) for c in changes]
    tickets = ticket_id is None
    orders = tickets or len({c.order_id for c in changes}) > 1
    agents = len({c.agent for c in changes}) > 1
    if not orders and changes[0].order_id:
        console.print(Text(_("Order {order}").format(order=changes[0].order_id), style="dim"))
    if not agents and changes[0].agent:
        console.print(Text(_("Changes made by {who}:").format(who=changes[0].agent),
                           style="dim"))
    # Thousands of lines say the same few words and minutes: each is worked out once.
    say = functools.lru_cache(maxsize=None)(_)
    times: dict[str, str] = {}
    rows = []
    for c in changes:
        words, style = RESULT_WORDS.get(c.result, (c.result, ""))
        minute = c.at[:16]
        if minute not in times:
            times[minute] = clock_time(c.at)
        cells = [Text(times[minute])]
        if tickets:
            cells.append(Text(_ticket(c.ticket_id)))
        if orders:
            cells.append(Text(c.order_id))
        cells += [Text(change_words(c, say)), Text(say(words), style=style)]
        if agents:
            cells.append(Text(c.agent))
        rows.append(cells)
    heads = [_("When"), *([_("Ticket")] if tickets else []), *([_("Order")] if orders else []),
             _("Change"), _("Result"), *([_("By")] if agents else [])]
    flexible = heads.index(_("Change"))
    table = Table(box=None, padding=(0, 1, 0, 0), header_style="bold")
    for n, head in enumerate(heads):
        if n == flexible:  # the one column that gives way on a narrow terminal: never wraps
            table.add_column(head, no_wrap=True, overflow="ellipsis")
        else:  # times, ids and results are never cut
            width = max(cell_len(head), *(row[n].cell_len for row in rows))
            table.add_column(head, no_wrap=True, min_width=min(width, 20))
    for cells in rows:
        table.add_row(*cells)
    console.print(table)
    if any(c.result == "unknown" for c in changes):
        console.print(Text(_("unknown: the run stopped before hearing back; the next "
                             "`cancelbot process` of the ticket re-checks it before doing "
                             "anything."), style="dim"))


def render_feeds(console: Console, follow_up: FollowUp, cancellations: Sequence[Cancellation],
                 feeds: Sequence[Feed], refused: Sequence[Cancellation] = ()) -> None:
    """`cancelbot feeds`: what was just done, where every cancellation stands, and in red each
    refusal whose ticket nobody has handled yet."""
    if follow_up.busy:
        console.print(Text(_("Another cancelbot is handling the feeds right now: showing the "
                             "journal as it is."), style="yellow"))
    listed = {row.order_id for row in refused}  # in red below
    cancellations, refused = [_shown_row(row) for row in cancellations], \
        [_shown_row(row) for row in refused]
    for level, text in follow_up.news:
        refusal = text in follow_up.refusals
        text = from_journal(text)
        if not (refusal and any(f" {order_id} " in text for order_id in listed)):
            console.print(Text(text, style="yellow" if level == "warn" else ""))
    if not cancellations:
        console.print(_("No Amazon cancellation in the journal."))
        return
    table = Table(box=None, padding=(0, 2, 0, 0), header_style="bold")
    for n, name in enumerate((_("Order"), _("Ticket"), _("State"), _("Feed"), _("Since"),
                              _("Amazon's answer"))):
        # Order numbers, tickets and feed ids are read whole: Amazon's answer gives way.
        table.add_column(name, overflow="fold", no_wrap=n in (0, 1, 3))
    states = {"done": (_("cancelled"), "green"),
              "sent": (_("sent, Amazon processing"), "yellow"),
              "queued": (_("queued (feed window)"), "yellow"),
              "sending": (_("unsure: rerun its ticket"), "bold red"),
              "error": (_("NOT CANCELLED"), "bold red")}
    for row in cancellations:
        label, style = states.get(row.state, (row.state, ""))
        table.add_row(Text(row.order_id), Text(_ticket(row.ticket_id)),
                      Text(label, style=style),
                      Text(row.feed_id or ""), Text(clock_time(row.sent_at or row.queued_at)),
                      Text(row.result))
    console.print(table)
    pending = [f.feed_id for f in feeds if f.state == "pending"]
    if pending:
        console.print(Text(ngettext(
            "Still processing at Amazon: feed {feeds}. Run `cancelbot feeds` again later.",
            "Still processing at Amazon: feeds {feeds}. Run `cancelbot feeds` again later.",
            len(pending)).format(feeds=", ".join(pending)), style="dim"))
    for row in refused:
        console.print(Text(_(
            "AMAZON DID NOT CANCEL order {order} (ticket #{ticket}, feed {feed}): {result}. "
            "The ticket is open again with a note saying what to do: `cancelbot process "
            "{ticket}` offers it.").format(order=row.order_id, ticket=row.ticket_id,
                                           feed=row.feed_id or "—", result=row.result),
            style="bold red"))


def _shown_row(row: Cancellation) -> Cancellation:
    """A cancellation read back from the journal, its texts as `from_journal` shows them."""
    return structs.replace(row, order_id=from_journal(row.order_id),
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
