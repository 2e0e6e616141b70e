"""The loopback benchmark of issues 5 and 12: `python bench/run.py` (`--quick`: a smoke run).

It starts Freshdesk, GSTK, LWA, SP-API and the feed-upload host as HTTP servers on 127.0.0.1
(bench/fakes.py: the sandbox's own request handlers), delays every request by a fixed latency,
runs real `cancelbot process ID --yes` subprocesses against them (FRESHDESK_AGENT_ID set), and
prints what docs/performance.md reports: requests per service and sequential depth per ticket,
wall time against `levels × L × 1.25 + 2 × import typer`, start-up against `python -c "import
typer"`, peak memory, 50 tickets by a small team against a scaled-down Freshdesk rate budget,
and a shift (`cancelbot queue --yes`) whose Amazon feeds take minutes on the fakes' clock.
Every loop is bounded and every child has a timeout; the servers stop with the run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's cancelbot (and bench.fakes), for this process and for every child.
sys.path.insert(0, str(ROOT))

from bench.fakes import Fakes, RateBudget, Record, make_world, sequential_depth  # noqa: E402
from cancelbot.sandbox.seed import AGENT_ID  # noqa: E402

# Issue 12's chains, with FRESHDESK_AGENT_ID: the claim note beside the lookups, the feed
# document beside the claim's re-read and GSTK, the assignment in the final PUT.
LEVELS = {"cancel": 6, "cannot_cancel": 5}
FINAL_STATUS = {"cancel": 5, "cannot_cancel": 4}  # closed / resolved
CHILD_TIMEOUT = 60.0
# Requests that follow earlier runs' feeds (beside the run's own): getFeed, the report.
FOLLOWING = re.compile(r"^GET (spapi /feeds/2021-06-30/(feeds|documents)/|upload )")
CLEARED_PREFIXES = ("CANCELBOT_", "FRESHDESK_", "GSTK_", "LWA_", "SPAPI_")


@dataclass
class Run:
    branch: str
    ticket: int
    exit_code: int
    wall: float
    peak_rss_mb: float | None
    requests: int = 0
    by_service: dict[str, int] = field(default_factory=dict)
    depth: int = 0
    repeated_gets: list[str] = field(default_factory=list)
    connections: int = 0
    too_many: int = 0
    final_status: int | None = None
    to_first_request: float = 0.0  # from the process start to its first request
    after_last_answer: float = 0.0  # from the last answer to the process end
    following: int = 0  # requests following earlier runs' feeds (counted in `requests`)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cancelbot-bench-"))
    results: dict = {"machine": machine(), "settings": vars(args).copy()}

    print(f"cancelbot loopback benchmark · {results['machine']['summary']}", flush=True)
    print(f"command under test: {' '.join(cancelbot_command())}", flush=True)
    compileall.compile_dir(ROOT / "cancelbot", quiet=1)  # what `pip install` does

    try:
        results["startup"] = startup(args.reps, work)
        _say(f"start-up: {args.reps} repetitions done")
        results["tickets"] = tickets(args.n, args.latency, work)
        _say(f"tickets: {2 * args.n} runs done")
        results["rate"] = rate(args, work)
        _say(f"rate: {args.rate_tickets} tickets done")
        results["shift"] = shift(args, work)
        _say(f"shift: {args.shift_tickets} tickets done")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed"] = time.perf_counter() - started

    print()
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    v = verdicts(results, args)
    # --strict also fails on a longer chain or a repeated read (timings never fail a run).
    return 0 if v["runs"] and (not args.strict or (v["depth"] and v["no_repeat"])) else 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request (L)")
    parser.add_argument("--n", type=int, default=10, help="tickets per branch")
    parser.add_argument("--reps", type=int, default=25, help="start-up repetitions")
    parser.add_argument("--rate-tickets", type=int, default=50)
    parser.add_argument("--rate-total", type=int, default=60, help="Freshdesk calls per window")
    parser.add_argument("--rate-window", type=float, default=10.0, help="seconds")
    parser.add_argument("--agents", type=int, default=3,
                        help="processes working through the rate tickets at once")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: tiny counts, the same checks")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    parser.add_argument("--shift-tickets", type=int, default=20,
                        help="tickets of the shift, half of them CANCEL")
    parser.add_argument("--feed-seconds", type=float, default=180.0,
                        help="how long Amazon takes over each feed in the shift, on the "
                        "fakes' clock")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 unless the round-trip targets hold (minimal chains, "
                        "no repeated read)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.reps, args.rate_tickets, args.latency = 2, 2, 8, 0.02
        args.rate_total, args.rate_window, args.agents = 10, 2.0, 2
        args.shift_tickets = 4
    for name in ("n", "reps", "rate_tickets", "rate_total", "agents", "shift_tickets"):
        if getattr(args, name) < 1 or getattr(args, name) > 1000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 1000")
    if not 0 <= args.latency <= 1 or not 0.5 <= args.rate_window <= 120:
        parser.error("--latency must be 0–1 s and --rate-window 0.5–120 s")
    return args


# -- the command, its environment, one child ---------------------------------------------------


def cancelbot_command() -> list[str]:
    """The installed `cancelbot` script next to this Python when there is one, else -m."""
    script = Path(sys.executable).with_name("cancelbot.exe" if os.name == "nt" else "cancelbot")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cancelbot"]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED_PREFIXES)}
    env["FRESHDESK_AGENT_ID"] = str(AGENT_ID)  # the claim and the assignment, as agents run it
    # Bytecode is cached, as after `pip install` (which compiles it): no run recompiles.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    env.update(extra or {})
    return env


def run_child(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = CHILD_TIMEOUT
) -> tuple[int, float, float | None]:
    """(exit code, wall seconds, peak RSS in MB or None) of one child, output discarded."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT)
        watchdog = threading.Timer(timeout, child.kill)
        watchdog.start()
        try:
            if hasattr(os, "wait4"):
                _, status, usage = os.wait4(child.pid, 0)
                wall = time.perf_counter() - start
                child.returncode = os.waitstatus_to_exitcode(status)
                # ru_maxrss is in KiB on Linux, in bytes on macOS.
                scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
                rss: float | None = usage.ru_maxrss * scale
            else:
                child.wait()
                wall = time.perf_counter() - start
                rss = None
        finally:
            watchdog.cancel()
        if child.returncode not in (0,) and os.environ.get("BENCH_SHOW_FAILURES"):
            out.seek(0)
            sys.stderr.write(out.read().decode("utf-8", "replace")[-3000:])
    return child.returncode, wall, rss


# -- phase 1: start-up ---------------------------------------------------------------------------


def startup(reps: int, work: Path) -> dict:
    python = sys.executable
    commands = {
        "python -c pass": [python, "-c", "pass"],
        'python -c "import typer"': [python, "-c", "import typer"],
        "cancelbot --help": [*cancelbot_command(), "--help"],
        "cancelbot --version": [*cancelbot_command(), "--version"],
    }
    env = child_env({"CANCELBOT_HOME": str(work / "home-startup")})
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):  # interleaved, so drifts in machine load hit every command alike
        for name, command in commands.items():
            code, wall, _ = run_child(command, env, work)
            if code != 0:
                raise SystemExit(f"bench: `{name}` exited {code}")
            walls[name].append(wall)
    return {name: {"median": statistics.median(v), "runs": v} for name, v in walls.items()}


# -- phase 2: tickets at latency L ---------------------------------------------------------------


def tickets(n: int, latency: float, work: Path) -> dict:
    world = make_world({"cancel": 2 * n, "cannot_cancel": 2 * n})
    cold = {b: ids[:n] for b, ids in world.tickets.items()}
    warm = {b: ids[n:] for b, ids in world.tickets.items()}
    # Cold and warm in two homes (two computers): each journal's feeds stay within Amazon's
    # burst of 15, so every CANCEL measured sends its feed at once.
    home = work / "home-tickets"
    # A budget far beyond what the phase uses: the rate headers are there, never the limit.
    budget = RateBudget(total=100_000, window=60.0)
    runs: list[Run] = []
    with Fakes(world, latency=latency, budget=budget) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(home),
                         "FRESHDESK_RATE_WINDOW": "60"})
        order = [t for pair in zip(cold["cancel"], cold["cannot_cancel"], strict=True)
                 for t in pair]
        for ticket in order:
            branch = "cancel" if ticket in cold["cancel"] else "cannot_cancel"
            start = time.perf_counter()
            code, wall, rss = run_child(
                [*cancelbot_command(), "process", str(ticket), "--yes"], env, work
            )
            time.sleep(0.01)  # let the last server thread log its request
            run = Run(branch, ticket, code, wall, rss)
            records = fakes.recorder.between(start, time.perf_counter())
            describe(run, records)
            if records:
                run.to_first_request = min(r.start for r in records) - start
                run.after_last_answer = start + wall - max(r.end for r in records)
            run.final_status = world.store.state["freshdesk"]["tickets"][str(ticket)]["status"]
            runs.append(run)
        warm_walls = in_one_process(warm, {**env, "CANCELBOT_HOME": str(work / "home-warm")},
                                    work)
    return {"latency": latency, "runs": [asdict(r) for r in runs], "warm": warm_walls}


# What a long-lived process (`cancelbot queue`) pays per ticket once it has started: the same
# command, called again and again in one interpreter.
WARM_DRIVER = """
import json, sys, time
from cancelbot.cli import app
walls = []
for ticket in sys.argv[2:]:
    start = time.perf_counter()
    code = app(["process", ticket, "--yes"], standalone_mode=False)
    walls.append((time.perf_counter() - start, code or 0))
with open(sys.argv[1], "w") as out:
    json.dump(walls, out)
"""


def in_one_process(warm: dict[str, list[int]], env: dict[str, str], work: Path) -> dict:
    order = [t for pair in zip(warm["cancel"], warm["cannot_cancel"], strict=True) for t in pair]
    result = work / "warm.json"
    code, _, _ = run_child([sys.executable, "-c", WARM_DRIVER, str(result), *map(str, order)],
                           env, work)
    walls = json.loads(result.read_text()) if code == 0 and result.exists() else []
    out: dict[str, dict] = {}
    for branch in LEVELS:
        mine = [w for t, w in zip(order, walls, strict=False) if t in warm[branch]]
        out[branch] = {"median": statistics.median(w for w, _ in mine) if mine else None,
                       "ok": sum(1 for _, c in mine if c == 0), "runs": len(warm[branch])}
    return out


def describe(run: Run, records: list[Record]) -> None:
    run.requests = len(records)
    run.by_service = dict(Counter(r.service for r in records))
    run.depth = sequential_depth(records)
    gets = Counter(f"{r.service} {r.target}" for r in records if r.method == "GET")
    run.repeated_gets = sorted(k for k, count in gets.items() if count > 1)
    run.connections = len({(r.service, r.connection) for r in records})
    run.too_many = sum(1 for r in records if r.status == 429)
    run.following = sum(1 for r in records if FOLLOWING.match(f"{r.method} {r.service} "
                                                              f"{r.target}"))


# -- phase 3: a team against the rate budget -----------------------------------------------------


def rate(args: argparse.Namespace, work: Path) -> dict:
    half = args.rate_tickets // 2
    world = make_world({"cancel": args.rate_tickets - half, "cannot_cancel": half},
                       first_id=30001)
    cancel, cannot = world.tickets["cancel"], world.tickets["cannot_cancel"]
    queue = [t for i in range(len(cancel)) for t in (cancel[i], *cannot[i:i + 1])]  # alternate
    budget = RateBudget(total=args.rate_total, window=args.rate_window)
    home = work / "home-rate"
    codes: list[int] = []
    lock = threading.Lock()
    with Fakes(world, latency=args.latency, budget=budget) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(home),
                         "FRESHDESK_RATE_WINDOW": str(args.rate_window)})

        def agent() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    ticket = queue.pop(0)
                code, _, _ = run_child(
                    [*cancelbot_command(), "process", str(ticket), "--yes"], env, work
                )
                with lock:
                    codes.append(code)

        start = time.perf_counter()
        workers = [threading.Thread(target=agent) for _ in range(args.agents)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - start
        time.sleep(0.01)
        records = [r for r in fakes.recorder.records if r.service == "freshdesk"]
    calls = sum(1 for r in records if r.status != 429)
    refused = sum(1 for r in records if r.status == 429)
    windows = budget.windows
    # Idle time between a window's end and the next window's first call: budget left unused.
    gaps = [max(0.0, nxt[0] - (cur[0] + budget.window))
            for cur, nxt in zip(windows, windows[1:], strict=False)]
    unused = sum(budget.total - used for _, used in windows[:-1])
    floor = (math.ceil(calls / budget.total) - 1) * budget.window
    done = sum(
        1 for t in world.store.state["freshdesk"]["tickets"].values()
        if t["id"] >= 30001 and t["status"] in (4, 5)
    )
    from cancelbot.journal import Journal

    with Journal.open(home) as journal:  # what waits for Amazon's feed window
        queued = len(journal.cancellations("queued"))
    return {
        "cancel_tickets": len(cancel), "feeds_created": len(world.store.state["amazon"]["feeds"]),
        "queued_for_window": queued,
        "tickets": args.rate_tickets, "agents": args.agents, "exit_codes": dict(Counter(codes)),
        "done": done, "freshdesk_calls": calls, "429s": refused, "wall": wall,
        "budget": f"{budget.total} per {budget.window:g} s", "windows": len(windows),
        "min_windows": math.ceil(calls / budget.total), "calls_per_window": [u for _, u in windows],
        "unused_in_full_windows": unused, "idle_between_windows": sum(gaps), "floor": floor,
    }


# -- phase 4: a shift whose feeds take minutes ---------------------------------------------------


def shift(args: argparse.Namespace, work: Path) -> dict:
    """`cancelbot queue --yes` over a queue of fresh tickets, half CANCEL, while Amazon takes
    `--feed-seconds` over each feed (on the fakes' clock); then the fakes' clock moves on by
    that much and `cancelbot feeds` reads what Amazon did."""
    half = args.shift_tickets // 2
    world = make_world({"cancel": half, "cannot_cancel": args.shift_tickets - half},
                       first_id=40001, only_clones=True)
    budget = RateBudget(total=100_000, window=60.0)
    with Fakes(world, latency=args.latency, budget=budget,
               feed_seconds=args.feed_seconds) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(work / "home-shift"),
                         "FRESHDESK_RATE_WINDOW": "60"})
        start = time.perf_counter()
        code, wall, _ = run_child([*cancelbot_command(), "queue", "--yes"], env, work,
                                  timeout=30 + 10 * args.shift_tickets)
        time.sleep(0.01)
        during = fakes.recorder.between(start, time.perf_counter())
        at_end = fakes.now()
        unfinished = sum(1 for t in fakes.feeds_created.values()
                         if at_end - t < args.feed_seconds)
        fakes.advance(args.feed_seconds)
        start = time.perf_counter()
        feeds_code, feeds_wall, _ = run_child([*cancelbot_command(), "feeds"], env, work)
        after = fakes.recorder.between(start, time.perf_counter())
    tickets = world.store.state["freshdesk"]["tickets"]
    orders = world.store.state["amazon"]["orders"]
    cancel = world.tickets["cancel"]
    cancelled = sum(
        1 for t in cancel
        for o in world.store.state["scenarios"][str(t)]["order_ids"]
        if orders[o]["order"]["fulfillment"]["fulfillmentStatus"] == "CANCELLED")
    return {
        "tickets": args.shift_tickets, "cancel": len(cancel), "exit_code": code, "wall": wall,
        "done": sum(1 for t in (*cancel, *world.tickets["cannot_cancel"])
                    if tickets[str(t)]["status"] in (4, 5)),
        "feed_seconds": args.feed_seconds, "feeds_created": len(fakes.feeds_created),
        "unfinished_at_end": unfinished,
        "get_feed_in_shift": sum(1 for r in during if r.method == "GET"
                                 and r.target.startswith("/feeds/2021-06-30/feeds/")),
        "feeds_exit_code": feeds_code, "feeds_wall": feeds_wall,
        "feeds_requests": len(after), "cancelled_after": cancelled,
    }


# -- the report ------------------------------------------------------------------------------------


def summary(results: dict) -> dict[str, dict]:
    latency = results["tickets"]["latency"]
    typer_s = results["startup"]['python -c "import typer"']["median"]
    out = {}
    for branch in LEVELS:
        runs = [r for r in results["tickets"]["runs"] if r["branch"] == branch]
        depths = [r["depth"] for r in runs]
        rss = [r["peak_rss_mb"] for r in runs if r["peak_rss_mb"] is not None]
        wall = statistics.median(r["wall"] for r in runs)
        out[branch] = {
            "runs": len(runs),
            "ok": sum(1 for r in runs if r["exit_code"] == 0
                      and r["final_status"] == FINAL_STATUS[branch]),
            "requests": statistics.median(r["requests"] for r in runs),
            "requests_max": max(r["requests"] for r in runs),
            "by_service": Counter(s for r in runs for s, c in r["by_service"].items()
                                  for _ in range(c)),
            "depth": _mode(depths),
            "depths": Counter(depths),
            # A run that fetched the LWA token (the first of the hour) has that one level more.
            "minimal": all(LEVELS[branch] <= r["depth"]
                           <= LEVELS[branch] + r["by_service"].get("lwa", 0) for r in runs),
            "token_fetches": sum(r["by_service"].get("lwa", 0) for r in runs),
            "wall": wall,
            "ratio": wall / (_mode(depths) * latency) if latency else None,
            "warm": results["tickets"]["warm"][branch],
            "bound": LEVELS[branch] * latency * 1.25 + 2 * typer_s,
            "following": sum(r["following"] for r in runs),
            # The same resource read twice in one run, ticket numbers folded: "{id}".
            "repeated_gets": sorted({re.sub(r"\d{4,}", "{id}", g)
                                     for r in runs for g in r["repeated_gets"]}),
            "runs_repeating": sum(1 for r in runs if r["repeated_gets"]),
            "connections": statistics.median(r["connections"] for r in runs),
            "rss": max(rss) if rss else None,
            "rss_median": statistics.median(rss) if rss else None,
            "429s": sum(r["too_many"] for r in runs),
            "to_first_request": statistics.median(r["to_first_request"] for r in runs),
            "after_last_answer": statistics.median(r["after_last_answer"] for r in runs),
        }
    return out


def _repeats(b: dict) -> str:
    if not b["repeated_gets"]:
        return "none"
    return f"{', '.join(b['repeated_gets'])} (in {b['runs_repeating']}/{b['runs']} runs)"


def _mode(values: list[int]) -> int:
    counts = Counter(values)
    return min(v for v, c in counts.items() if c == max(counts.values()))


def verdicts(results: dict, args: argparse.Namespace) -> dict[str, bool]:
    s = summary(results)
    st = results["startup"]
    typer_ms = st['python -c "import typer"']["median"]
    r = results["rate"]
    return {
        "startup": max(st["cancelbot --help"]["median"], st["cancelbot --version"]["median"])
        <= 1.3 * typer_ms,
        "depth": all(s[b]["minimal"] for b in LEVELS),
        "overhead": all(s[b]["wall"] <= s[b]["bound"] for b in LEVELS),
        "rate": r["429s"] == 0,
        "shift": results["shift"]["exit_code"] == 0 and results["shift"]["wall"]
        < results["shift"]["feed_seconds"] and results["shift"]["unfinished_at_end"]
        == results["shift"]["feeds_created"] and results["shift"]["feeds_exit_code"] == 0
        and results["shift"]["cancelled_after"] == results["shift"]["cancel"],
        "no_repeat": not any(s[b]["repeated_gets"] for b in LEVELS),
        # What holds on any machine, whatever the procedure does: every run done, no 429.
        "runs": all(s[b]["ok"] == s[b]["runs"] for b in LEVELS)
        and all(s[b]["warm"]["ok"] == s[b]["warm"]["runs"] for b in LEVELS)
        and r["429s"] == 0 and r["done"] == r["tickets"]
        and results["shift"]["done"] == results["shift"]["tickets"],
    }


def report(results: dict, args: argparse.Namespace) -> str:
    s = summary(results)
    v = verdicts(results, args)
    st = results["startup"]
    latency = results["tickets"]["latency"]
    ms = 1000
    typer_ms = st['python -c "import typer"']["median"]
    names = {"cancel": "CANCEL", "cannot_cancel": "CANNOT CANCEL"}
    mark = {True: "met", False: "NOT met"}
    lines = [
        f"Measured {results['machine']['date']} on {results['machine']['summary']}; "
        f"L = {latency * ms:g} ms, {args.n} tickets per branch, {args.reps} start-up "
        f"repetitions; run took {results['elapsed']:.0f} s.",
        "",
        f"Per ticket, with FRESHDESK_AGENT_ID; target wall = levels × L × 1.25 + 2 × import "
        f"typer ({typer_ms * ms:.0f} ms).",
        "",
        "| Branch | runs ok | requests / ticket | sequential depth | median wall | "
        "wall / (depth × L) | target wall | repeated GETs | connections / ticket | "
        "peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for branch, name in names.items():
        b = s[branch]
        depths = ", ".join(f"{d}×{c}" for d, c in sorted(b["depths"].items()))
        services = ", ".join(f"{k} {c / b['runs']:.3g}" for k, c in sorted(b["by_service"].items()))
        ratio = f"{b['ratio']:.2f}" if b["ratio"] is not None else "n/a"
        rss = (f"{b['rss_median']:.0f} MB (max {b['rss']:.0f})" if b["rss"] is not None
               else "unavailable (no wait4)")
        token = (f"; LWA token fetched in {b['token_fetches']} run(s), then cached"
                 if b["token_fetches"] else "")
        if b["following"]:
            services += (f"; of which {b['following'] / b['runs']:.2g} following earlier "
                         "runs' feeds")
        lines.append(
            f"| {name} | {b['ok']}/{b['runs']} | {b['requests']:g} ({services}) | "
            f"{b['depth']:g} (runs: {depths}{token}; target {LEVELS[branch]}) | "
            f"{b['wall'] * ms:.0f} ms | {ratio} | ≤ {b['bound'] * ms:.0f} ms | "
            f"{_repeats(b)} | {b['connections']:g} | {rss} |"
        )
    lines.append("")
    lines.append("The same tickets in one long-lived process (the command called again and "
                 "again, as `cancelbot queue` would; start-up paid once): " + "; ".join(
        f"{names[b]} median {s[b]['warm']['median'] * ms:.0f} ms per ticket "
        f"({s[b]['warm']['ok']}/{s[b]['warm']['runs']} ok, target ≤ {s[b]['bound'] * ms:.0f} ms)"
        if s[b]["warm"]["median"] is not None else f"{names[b]}: failed"
        for b in names
    ) + ".")
    lines.append("")
    lines.append("Where a ticket's wall goes (medians): " + "; ".join(
        f"{names[b]}: start → first request {s[b]['to_first_request'] * ms:.0f} ms, "
        f"last answer → exit {s[b]['after_last_answer'] * ms:.0f} ms, "
        f"depth × L {s[b]['depth'] * latency * ms:.0f} ms"
        for b in names
    ) + ".")
    lines += ["", "| Start-up (median of interleaved runs) | wall | × import typer |",
              "|---|---|---|"]
    for name, row in st.items():
        lines.append(f"| `{name}` | {row['median'] * ms:.0f} ms | "
                     f"{row['median'] / typer_ms:.2f} |")
    r, sh = results["rate"], results["shift"]
    lines += [
        "",
        f"Rate budget: {r['tickets']} tickets by {r['agents']} agents at once against "
        f"{r['budget']} (Freshdesk, account-wide): {r['done']}/{r['tickets']} done, "
        f"exit codes {r['exit_codes']}, {r['freshdesk_calls']} Freshdesk calls, "
        f"**{r['429s']} × 429**; wall {r['wall']:.1f} s against a floor of {r['floor']:.0f} s "
        f"that the budget imposes; {r['windows']} windows opened (minimum "
        f"{r['min_windows']}), calls per window {r['calls_per_window']}, "
        f"{r['unused_in_full_windows']} calls left unused in windows before the last, "
        f"{r['idle_between_windows']:.1f} s between a window's end and the next one's first call. "
        f"Amazon: {r['feeds_created']} feeds for {r['cancel_tickets']} CANCEL tickets "
        f"(createFeed's burst is 15, then one per 2 minutes): {r['queued_for_window']} left "
        "queued for the window, every ticket closed all the same.",
        "",
        f"Shift: `cancelbot queue --yes` over {sh['tickets']} tickets ({sh['cancel']} CANCEL), "
        f"Amazon taking {sh['feed_seconds']:.0f} s over each feed on the fakes' clock: exit "
        f"{sh['exit_code']}, {sh['done']}/{sh['tickets']} tickets done in **{sh['wall']:.1f} s** "
        f"({sh['wall'] / max(1, sh['tickets']) * ms:.0f} ms per ticket, start-up included); "
        f"{sh['feeds_created']} feeds created, {sh['unfinished_at_end']} still processing when the "
        f"shift ended (none waited for); getFeed during the shift: {sh['get_feed_in_shift']} "
        "(only ever from the shift's own thread, each feed at most every 30 s). Then the fakes' "
        f"clock moved {sh['feed_seconds']:.0f} s on: "
        f"`cancelbot feeds` exit {sh['feeds_exit_code']} in {sh['feeds_wall']:.1f} s "
        f"({sh['feeds_requests']} requests), {sh['cancelled_after']}/{sh['cancel']} orders "
        "cancelled on Amazon.",
        "",
        "| Target (issues 5 and 12) | Measured | Verdict |",
        "|---|---|---|",
        f"| Start-up ≤ 1.3 × `import typer` | --help "
        f"{st['cancelbot --help']['median'] / typer_ms:.2f}×, --version "
        f"{st['cancelbot --version']['median'] / typer_ms:.2f}× | {mark[v['startup']]} |",
        f"| Depth CANCEL {LEVELS['cancel']}, CANNOT CANCEL {LEVELS['cannot_cancel']} "
        f"(FRESHDESK_AGENT_ID) | {s['cancel']['depth']:g}, "
        f"{s['cannot_cancel']['depth']:g} | {mark[v['depth']]} |",
        f"| Wall ≤ levels × L × 1.25 + 2 × import typer | CANCEL {s['cancel']['wall'] * ms:.0f} ≤ "
        f"{s['cancel']['bound'] * ms:.0f} ms, CANNOT CANCEL "
        f"{s['cannot_cancel']['wall'] * ms:.0f} ≤ {s['cannot_cancel']['bound'] * ms:.0f} ms | "
        f"{mark[v['overhead']]} |",
        f"| Zero 429 over {r['tickets']} tickets | {r['429s']} | {mark[v['rate']]} |",
        f"| A shift never waits for a feed | {sh['wall']:.1f} s for {sh['tickets']} tickets, "
        f"feeds of {sh['feed_seconds']:.0f} s all still processing at its end, then settled by "
        f"`cancelbot feeds` | {mark[v['shift']]} |",
    ]
    return "\n".join(lines)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    cores = os.cpu_count()
    return {
        "cpu": cpu, "cores": cores, "python": python, "os": platform.platform(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "summary": f"{cpu}, {cores} cores, {platform.system()}, Python {python}",
    }


def _say(text: str) -> None:
    print(f"  … {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
