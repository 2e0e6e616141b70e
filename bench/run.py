"""The loopback benchmark of issues 5 and 12: `python bench/run.py` (`--quick`: a smoke run).

It starts Freshdesk, GSTK, LWA, SP-API and the feed-upload host as HTTP servers on 127.0.0.1
(bench/fakes.py: the sandbox's own request handlers), delays every request by a fixed latency,
runs real `cancelbot` subprocesses against them (FRESHDESK_AGENT_ID set), and prints what
docs/performance.md reports. Amazon takes --feed-seconds over each feed on a virtual clock
(bench/fakes.py's VirtualClock) that the bench moves on; nothing waits for it in real time.

  startup  `--help`, `--version`, and `process` up to its first request, each against
           `python -c "import typer"` in the same interleaved runs (a ratio), and what a
           `process` run imports before that first request
  tickets  requests per service and sequential depth per ticket, wall time against
           `levels × L × 1.25 + 2 × import typer`, peak memory; the clock moves on --think
           seconds per ticket, and `cancelbot feeds` settles the feeds afterwards
  rate     50 tickets by a small team against a scaled-down Freshdesk rate budget
  scale    history, feeds and queue --list on a journal of --scale-jobs jobs against an empty
           one, and Freshdesk's search pages one after another against search_all
  shift    `cancelbot queue --yes` over --shift-tickets tickets (half CANCEL) whose feeds are
           all still processing when it ends; then the clock moves on and `cancelbot feeds`

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
import sqlite3
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

from bench.fakes import (  # noqa: E402
    FEED_SECONDS,
    Fakes,
    RateBudget,
    Record,
    make_world,
    sequential_depth,
)
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
    cpu: float | None = None  # user + system seconds (wait4), None where there is none
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


PHASES = ("startup", "tickets", "rate", "scale", "shift")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cancelbot-bench-"))
    results: dict = {"machine": machine(), "settings": vars(args).copy()}

    print(f"cancelbot loopback benchmark · {results['machine']['summary']}", flush=True)
    print(f"command under test: {' '.join(cancelbot_command())}", flush=True)
    compileall.compile_dir(ROOT / "cancelbot", quiet=1)  # what `pip install` does

    try:
        if "startup" in args.phases:
            results["startup"] = startup(args, work)
            _say(f"start-up: {args.reps} repetitions done")
        if "tickets" in args.phases:
            results["tickets"] = tickets(args, work)
            _say(f"tickets: {2 * args.n} runs done")
        if "rate" in args.phases:
            results["rate"] = rate(args, work)
            _say(f"rate: {args.rate_tickets} tickets done")
        if "scale" in args.phases:
            results["scale"] = scale(args, work)
            _say(f"scale: {args.scale_jobs} jobs done")
        if "shift" in args.phases:
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
    parser.add_argument("--feed-seconds", type=float, default=FEED_SECONDS,
                        help="how long Amazon takes over a feed, on the virtual clock")
    parser.add_argument("--think", type=float, default=60.0,
                        help="virtual seconds between two tickets (an agent reading one): "
                        "Amazon's clock moves on by this much each time a ticket starts")
    parser.add_argument("--scale-jobs", type=int, default=100_000,
                        help="jobs in the scale phase's journal")
    parser.add_argument("--scale-reps", type=int, default=3,
                        help="repetitions of each scale command")
    parser.add_argument("--shift-tickets", type=int, default=20,
                        help="tickets of the shift, half of them CANCEL")
    parser.add_argument("--phases", default=",".join(PHASES),
                        help=f"comma-separated, among {', '.join(PHASES)} (default: all)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 unless the round-trip targets hold (minimal chains, "
                        "no repeated read)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.reps, args.rate_tickets, args.latency = 2, 2, 8, 0.02
        args.rate_total, args.rate_window, args.agents = 10, 2.0, 2
        args.scale_jobs, args.scale_reps = 2000, 1
        args.shift_tickets = 4
    for name in ("n", "reps", "rate_tickets", "rate_total", "agents", "scale_reps",
                 "shift_tickets"):
        if getattr(args, name) < 1 or getattr(args, name) > 1000:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 1000")
    if not 0 <= args.latency <= 1 or not 0.5 <= args.rate_window <= 120:
        parser.error("--latency must be 0–1 s and --rate-window 0.5–120 s")
    if not 1 <= args.scale_jobs <= 1_000_000:
        parser.error("--scale-jobs must be between 1 and 1,000,000")
    if not 0 <= args.feed_seconds <= 3600 or not 0 <= args.think <= 3600:
        parser.error("--feed-seconds and --think must be 0–3600")
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not args.phases or set(args.phases) - set(PHASES):
        parser.error(f"--phases takes names among {', '.join(PHASES)}")
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


FAILURES: list[str] = []  # the last words of every child that exited non-zero, for the report


def run_child(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = CHILD_TIMEOUT
) -> tuple[int, float, float | None, float | None]:
    """(exit code, wall seconds, peak RSS in MB or None, CPU seconds — user + system — or
    None) of one child, output discarded."""
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
                cpu: float | None = usage.ru_utime + usage.ru_stime
            else:
                child.wait()
                wall = time.perf_counter() - start
                rss = cpu = None
        finally:
            watchdog.cancel()
        if child.returncode not in (0,):
            out.seek(0)
            said = out.read().decode("utf-8", "replace")
            FAILURES.append(f"{' '.join(command[-3:])} → exit {child.returncode}: "
                            + " ".join(said.split())[-600:])
            if os.environ.get("BENCH_SHOW_FAILURES"):
                sys.stderr.write(said[-3000:])
    return child.returncode, wall, rss, cpu


# -- phase 1: start-up ---------------------------------------------------------------------------

# A Typer command taking one text argument: what Typer itself costs to start and parse
# `process 1001` (Typer 0.29 converts the value through pydantic), cancelbot's code aside.
TYPER_FLOOR = """
import typer


def main(ticket: str) -> None:
    pass


typer.run(main)
"""
PROCESS = "cancelbot process → first request"
IMPORT_TYPER = 'python -c "import typer"'

# One `process` run under -X importtime; an audit hook writes a mark on stderr at its first
# connection, so what was imported before the first request can be told from what came after.
IMPORTS_DRIVER = """
import sys
seen = []
def mark(event, args):
    if event == "socket.connect" and not seen:
        seen.append(1)
        sys.stderr.write("bench: first connect\\n")
sys.addaudithook(mark)
from cancelbot.__main__ import main
sys.argv = ["cancelbot", *sys.argv[1:]]
main()
"""
IMPORT_GROUPS = {
    "typer": "typer", "shellingham": "typer", "annotated_doc": "typer",
    "pydantic": "pydantic (Typer's value conversion)",
    "pydantic_core": "pydantic (Typer's value conversion)",
    "annotated_types": "pydantic (Typer's value conversion)",
    "typing_inspection": "pydantic (Typer's value conversion)",
    "typing_extensions": "msgspec, typing_extensions", "msgspec": "msgspec, typing_extensions",
    "rich": "rich", "pygments": "rich", "markdown_it": "rich", "mdurl": "rich",
    "httpx": "httpx, httpcore, h11, anyio, idna, certifi",
    "httpcore": "httpx, httpcore, h11, anyio, idna, certifi",
    "h11": "httpx, httpcore, h11, anyio, idna, certifi",
    "anyio": "httpx, httpcore, h11, anyio, idna, certifi",
    "sniffio": "httpx, httpcore, h11, anyio, idna, certifi",
    "idna": "httpx, httpcore, h11, anyio, idna, certifi",
    "certifi": "httpx, httpcore, h11, anyio, idna, certifi",
    "ssl": "ssl", "_ssl": "ssl", "sqlite3": "sqlite3", "_sqlite3": "sqlite3",
    "dotenv": "python-dotenv", "jinja2": "jinja2", "markupsafe": "jinja2",
    "cancelbot": "cancelbot's own modules",
}


def startup(args: argparse.Namespace, work: Path) -> dict:
    """Interleaved runs of the yardsticks and of cancelbot; `process` up to its first request."""
    python = sys.executable
    commands = {
        "python -c pass": [python, "-c", "pass"],
        IMPORT_TYPER: [python, "-c", "import typer"],
        "Typer command, one text argument": [python, "-c", TYPER_FLOOR, "1001"],
        "cancelbot --help": [*cancelbot_command(), "--help"],
        "cancelbot --version": [*cancelbot_command(), "--version"],
    }
    world = make_world({"cancel": args.reps + 2}, first_id=40001,
                       feed_seconds=args.feed_seconds)
    fresh = iter(world.tickets["cancel"])
    walls: dict[str, list[float]] = {name: [] for name in [*commands, PROCESS]}
    with Fakes(world, latency=args.latency, budget=RateBudget(100_000, 60.0)) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(work / "home-startup"),
                         "FRESHDESK_RATE_WINDOW": "60"})
        # An agent's machine after its first ticket: a journal, a cached LWA token.
        run_child([*cancelbot_command(), "process", str(next(fresh)), "--yes"], env, work)
        for _ in range(args.reps):  # interleaved: drifts in machine load hit all alike
            for name, command in commands.items():
                code, wall, _, _ = run_child(command, env, work)
                if code != 0:
                    raise SystemExit(f"bench: `{name}` exited {code}")
                walls[name].append(wall)
            start = time.perf_counter()
            code, _, _, _ = run_child(
                [*cancelbot_command(), "process", str(next(fresh)), "--yes"], env, work)
            time.sleep(0.01)
            records = fakes.recorder.between(start, time.perf_counter())
            if code != 0 or not records:
                raise SystemExit(f"bench: `cancelbot process` exited {code}")
            walls[PROCESS].append(min(r.start for r in records) - start)
            world.store.clock.advance(args.think)
        imports = import_profile(str(next(fresh)), env, work)
    out: dict = {name: {"median": statistics.median(v), "runs": v} for name, v in walls.items()}
    out["imports"] = imports
    return out


def import_profile(ticket: str, env: dict[str, str], work: Path) -> dict:
    """Milliseconds of import (-X importtime self times, summed by group) before the first
    request of one `process` run, in the order the groups first appear; and after it."""
    child = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS_DRIVER, "process", ticket, "--yes"],
        env=env, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=CHILD_TIMEOUT,
    )
    before: dict[str, float] = {}
    after = 0.0
    seen_connect = False
    for line in child.stderr.splitlines():
        if line.startswith("bench: first connect"):
            seen_connect = True
            continue
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if not match:
            continue
        ms = int(match.group(1)) / 1000
        if seen_connect:
            after += ms
            continue
        top = match.group(2).split(".")[0]
        group = IMPORT_GROUPS.get(top, "standard library, other")
        before[group] = before.get(group, 0.0) + ms
    return {"before_first_request": before, "after": after, "exit_code": child.returncode,
            "found_connect": seen_connect}


# -- phase 2: tickets at latency L ---------------------------------------------------------------


def tickets(args: argparse.Namespace, work: Path) -> dict:
    n, latency = args.n, args.latency
    world = make_world({"cancel": 2 * n, "cannot_cancel": 2 * n},
                       feed_seconds=args.feed_seconds)
    cold = {b: ids[:n] for b, ids in world.tickets.items()}
    warm = {b: ids[n:] for b, ids in world.tickets.items()}
    # Cold and warm in two homes (two computers): each journal's feeds stay within Amazon's
    # burst of 15, so every CANCEL measured sends its feed at once.
    home = work / "home-tickets"
    # A budget far beyond what the phase uses: the rate headers are there, never the limit.
    budget = RateBudget(total=100_000, window=60.0)
    runs: list[Run] = []
    yardstick: list[float] = []  # `import typer`, interleaved: the wall target's start-up part
    with Fakes(world, latency=latency, budget=budget) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(home),
                         "FRESHDESK_RATE_WINDOW": "60"})
        order = [t for pair in zip(cold["cancel"], cold["cannot_cancel"], strict=True)
                 for t in pair]
        for ticket in order:
            branch = "cancel" if ticket in cold["cancel"] else "cannot_cancel"
            if branch == "cancel":
                yardstick.append(run_child([sys.executable, "-c", "import typer"], env, work)[1])
            world.store.clock.advance(args.think)  # the agent read the ticket meanwhile
            start = time.perf_counter()
            code, wall, rss, cpu = run_child(
                [*cancelbot_command(), "process", str(ticket), "--yes"], env, work
            )
            time.sleep(0.01)  # let the last server thread log its request
            run = Run(branch, ticket, code, wall, rss, cpu)
            records = fakes.recorder.between(start, time.perf_counter())
            describe(run, records)
            if records:
                run.to_first_request = min(r.start for r in records) - start
                run.after_last_answer = start + wall - max(r.end for r in records)
            run.final_status = world.store.state["freshdesk"]["tickets"][str(ticket)]["status"]
            runs.append(run)
        later = follow_feeds(world, fakes, env, work, args.feed_seconds, home)
        warm_walls = in_one_process(warm, {**env, "CANCELBOT_HOME": str(work / "home-warm")},
                                    work)
    return {"latency": latency, "runs": [asdict(r) for r in runs], "warm": warm_walls,
            "feeds": later, "feed_seconds": args.feed_seconds, "think": args.think,
            "import_typer": statistics.median(yardstick)}


def world_journal(home: Path) -> Path:
    """The journal of the benchmark's one account under `home`: it lives in that world's
    folder, `<CANCELBOT_HOME>/worlds/<id>/journal.sqlite3`."""
    found = sorted(home.glob("worlds/*/journal.sqlite3"))
    if not found:
        raise SystemExit(f"bench: no journal under {home / 'worlds'}")
    return found[0]


def follow_feeds(world, fakes: Fakes, env: dict[str, str], work: Path, seconds: float,
                 home: Path) -> dict:
    """After the tickets: Amazon's clock moves on by a feed's time, `cancelbot feeds` settles
    every feed the runs left processing. Its wall and requests; the cancellations left."""
    pending = [f for f in world.store.state["amazon"]["feeds"].values()
               if f["processingStatus"] not in ("DONE", "FATAL", "CANCELLED")]
    world.store.clock.advance(seconds)
    start = time.perf_counter()
    code, wall, _, _ = run_child([*cancelbot_command(), "feeds"], env, work)
    time.sleep(0.01)
    records = fakes.recorder.between(start, time.perf_counter())
    with sqlite3.connect(world_journal(home)) as db:
        states = dict(db.execute(
            "SELECT state, COUNT(*) FROM amazon_cancellations GROUP BY state").fetchall())
    return {"pending_before": len(pending), "exit_code": code, "wall": wall,
            "requests": len(records), "depth": sequential_depth(records),
            "cancellations": states}


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
    code, _, _, _ = run_child(
        [sys.executable, "-c", WARM_DRIVER, str(result), *map(str, order)], env, work)
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
                       first_id=30001, feed_seconds=args.feed_seconds)
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
                    world.store.clock.advance(args.think)  # the team's shift, for Amazon
                code, _, _, _ = run_child(
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

    with Journal.open(world_journal(home).parent) as journal:  # what waits for Amazon's window
        queued = len(journal.cancellations("queued"))
    return {
        "cancel_tickets": len(cancel), "feeds_created": len(world.store.state["amazon"]["feeds"]),
        "queued_for_window": queued,
        "tickets": args.rate_tickets, "agents": args.agents, "exit_codes": dict(Counter(codes)),
        "done": done, "freshdesk_calls": calls, "429s": refused, "wall": wall,
        "failures": list(FAILURES),
        "budget": f"{budget.total} per {budget.window:g} s", "windows": len(windows),
        "min_windows": math.ceil(calls / budget.total), "calls_per_window": [u for _, u in windows],
        "unused_in_full_windows": unused, "idle_between_windows": sum(gaps), "floor": floor,
    }


# -- phase 4: a journal of years -----------------------------------------------------------------

QUEUE_TICKETS = 300  # Freshdesk's search serves 300 at most: 10 pages of 30
SCALE_COMMANDS = {
    "history": ["history"],
    "history --limit 10000": ["history", "--limit", "10000"],
    "history --limit 10000 --json": ["history", "--limit", "10000", "--json"],
    "feeds": ["feeds"],
    "feeds --all": ["feeds", "--all"],
    f"queue --list ({QUEUE_TICKETS} open tickets)": ["queue", "--list"],
}


def scale(args: argparse.Namespace, work: Path) -> dict:
    """The same commands on an empty journal and on one of `--scale-jobs` jobs, interleaved."""
    homes = {"empty": work / "home-empty", "full": work / "home-full"}
    world = make_world({"cancel": QUEUE_TICKETS}, first_id=50001, only_clones=True,
                       feed_seconds=args.feed_seconds)
    walls: dict[str, dict[str, list[float]]] = {n: {h: [] for h in homes} for n in SCALE_COMMANDS}
    rss: dict[str, float | None] = {}
    with Fakes(world, latency=args.latency, budget=RateBudget(100_000, 60.0)) as fakes:
        env = child_env({**fakes.env(), "FRESHDESK_RATE_WINDOW": "60"})
        # As after an agent's first run: the LWA token cached, the account's world folder made
        # (its id comes from the fakes' addresses), where the journal is then filled.
        for home in homes.values():
            run_child([*cancelbot_command(), "feeds"], {**env, "CANCELBOT_HOME": str(home)}, work)
        fill_in_child(world_journal(homes["empty"]).parent, 0)
        started = time.perf_counter()
        counts = fill_in_child(world_journal(homes["full"]).parent, args.scale_jobs)
        filled = time.perf_counter() - started
        yardstick: list[float] = []
        for _ in range(args.scale_reps):
            yardstick.append(run_child([sys.executable, "-c", "import typer"], env, work)[1])
            for name, argv in SCALE_COMMANDS.items():
                for label, home in homes.items():
                    code, wall, peak, _ = run_child([*cancelbot_command(), *argv],
                                                    {**env, "CANCELBOT_HOME": str(home)}, work)
                    if code != 0:
                        raise SystemExit(f"bench: `cancelbot {' '.join(argv)}` exited {code} "
                                         f"({label} journal)")
                    walls[name][label].append(wall)
                    if label == "full":
                        rss[name] = max(rss.get(name) or 0.0, peak or 0.0) or None
        pages = search_pages(fakes, args.scale_reps)
    return {
        "journal": counts, "fill_seconds": filled, "latency": args.latency,
        "import_typer": statistics.median(yardstick),
        "commands": {name: {label: {"median": statistics.median(v), "runs": v}
                            for label, v in by_home.items()} | {"rss_full": rss.get(name)}
                     for name, by_home in walls.items()},
        "search_pages": pages,
    }


FILL_DRIVER = """
import json, sys
from pathlib import Path
from bench.journal_fill import fill
print(json.dumps(fill(Path(sys.argv[1]), int(sys.argv[2]))))
"""


def fill_in_child(home: Path, jobs: int) -> dict[str, int]:
    """bench/journal_fill.py in a child process: the rows it builds (hundreds of MB at 100,000
    jobs) would otherwise stay in this process, and every later child's peak RSS would start
    from them (a forked child's ru_maxrss counts its parent's pages)."""
    child = subprocess.run([sys.executable, "-c", FILL_DRIVER, str(home), str(jobs)],
                           env=child_env(), cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    if child.returncode != 0:
        raise SystemExit(f"bench: filling the journal failed: {child.stderr[-2000:]}")
    return json.loads(child.stdout)


def search_pages(fakes: Fakes, reps: int) -> dict:
    """Freshdesk's 10 search pages of 300 open tickets: one after another (as queue.py reads
    them today) against FreshdeskClient.search_all, in this process, at the bench's latency."""
    from cancelbot import sandbox
    from cancelbot.config import FreshdeskSettings
    from cancelbot.services.freshdesk import SEARCH_MAX_PAGES, FreshdeskClient

    settings = FreshdeskSettings(fakes.servers["freshdesk"].base_url, sandbox.FRESHDESK_API_KEY)
    one_by_one, at_once = [], []
    with FreshdeskClient(settings) as client:
        client.search_tickets("status:2", 1)  # the connection, opened
        for _ in range(max(3, reps)):
            start = time.perf_counter()
            read = [client.search_tickets("status:2", p) for p in range(1, SEARCH_MAX_PAGES + 1)]
            one_by_one.append(time.perf_counter() - start)
            start = time.perf_counter()
            pages = client.search_all("status:2")
            at_once.append(time.perf_counter() - start)
    assert sum(len(p.tickets) for p in pages) == sum(len(p.tickets) for p in read)
    return {"pages": len(pages), "one_by_one": statistics.median(one_by_one),
            "search_all": statistics.median(at_once)}


# -- phase 5: a shift whose feeds take minutes ---------------------------------------------------


def shift(args: argparse.Namespace, work: Path) -> dict:
    """`cancelbot queue --yes` over a queue of fresh tickets, half CANCEL, while Amazon takes
    `--feed-seconds` over each feed (on the virtual clock, which stands still during the shift
    but for real time); then the clock moves on by that much and `cancelbot feeds` reads what
    Amazon did."""
    half = args.shift_tickets // 2
    world = make_world({"cancel": half, "cannot_cancel": args.shift_tickets - half},
                       first_id=60001, only_clones=True, feed_seconds=args.feed_seconds)
    feeds = world.store.state["amazon"]["feeds"]
    budget = RateBudget(total=100_000, window=60.0)
    with Fakes(world, latency=args.latency, budget=budget) as fakes:
        env = child_env({**fakes.env(), "CANCELBOT_HOME": str(work / "home-shift"),
                         "FRESHDESK_RATE_WINDOW": "60"})
        start = time.perf_counter()
        code, wall, _, _ = run_child([*cancelbot_command(), "queue", "--yes"], env, work,
                                     timeout=30 + 10 * args.shift_tickets)
        time.sleep(0.01)
        during = fakes.recorder.between(start, time.perf_counter())
        with world.store.lock:
            created = len(feeds)
            unfinished = sum(1 for f in feeds.values()
                             if f["processingStatus"] not in ("DONE", "FATAL", "CANCELLED"))
        fakes.advance(args.feed_seconds)
        start = time.perf_counter()
        feeds_code, feeds_wall, _, _ = run_child([*cancelbot_command(), "feeds"], env, work)
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
        "feed_seconds": args.feed_seconds, "feeds_created": created,
        "unfinished_at_end": unfinished,
        "get_feed_in_shift": sum(1 for r in during if r.method == "GET"
                                 and r.target.startswith("/feeds/2021-06-30/feeds/")),
        "feeds_exit_code": feeds_code, "feeds_wall": feeds_wall,
        "feeds_requests": len(after), "cancelled_after": cancelled,
    }


# -- the report ------------------------------------------------------------------------------------


def summary(results: dict) -> dict[str, dict]:
    latency = results["tickets"]["latency"]
    typer_s = results["tickets"]["import_typer"]  # the phase's own, interleaved runs
    out = {}
    for branch in LEVELS:
        runs = [r for r in results["tickets"]["runs"] if r["branch"] == branch]
        depths = [r["depth"] for r in runs]
        rss = [r["peak_rss_mb"] for r in runs if r["peak_rss_mb"] is not None]
        walls = [r["wall"] for r in runs]
        wall = statistics.median(walls)
        bound = LEVELS[branch] * latency * 1.25 + 2 * typer_s
        cpu = [r["cpu"] for r in runs if r["cpu"] is not None]
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
            "bound": bound,
            # Ticket by ticket: how many runs were within it, and the walls' middle half (a
            # verdict on a margin of a few ms needs its spread: machine load moves the walls).
            "within": sum(1 for w in walls if w <= bound),
            "wall_quartiles": (statistics.quantiles(walls, n=4)[0::2] if len(walls) > 1
                               else [walls[0], walls[0]]),
            # User + system time of the whole process: the threads share one GIL, so the wall
            # cannot go below the part of it spent between the answers.
            "cpu": statistics.median(cpu) if cpu else None,
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
    """Each target of the phases that ran (timings are reported, never fail a run)."""
    v: dict[str, bool] = {}
    if "startup" in results:
        st = results["startup"]
        typer_s = st[IMPORT_TYPER]["median"]
        v["startup"] = max(st["cancelbot --help"]["median"],
                           st["cancelbot --version"]["median"]) <= 1.3 * typer_s
        v["first_request"] = st[PROCESS]["median"] <= 2 * typer_s
    runs_ok = True
    if "tickets" in results:
        s = summary(results)
        v["depth"] = all(s[b]["minimal"] for b in LEVELS)
        v["overhead"] = all(s[b]["wall"] <= s[b]["bound"] for b in LEVELS)
        v["no_repeat"] = not any(s[b]["repeated_gets"] for b in LEVELS)
        feeds = results["tickets"]["feeds"]
        runs_ok = (all(s[b]["ok"] == s[b]["runs"] for b in LEVELS)
                   and all(s[b]["warm"]["ok"] == s[b]["warm"]["runs"] for b in LEVELS)
                   and feeds["exit_code"] in (0, 4))
    if "rate" in results:
        r = results["rate"]
        v["rate"] = r["429s"] == 0
        runs_ok = runs_ok and r["429s"] == 0 and r["done"] == r["tickets"]
    if "scale" in results:
        c = results["scale"]["commands"]
        v["scale_fast"] = all(c[name]["full"]["median"] < 1.0 for name in ("history", "feeds"))
        queue = c[f"queue --list ({QUEUE_TICKETS} open tickets)"]
        v["scale_queue"] = queue["full"]["median"] <= 1.2 * queue["empty"]["median"]
    if "shift" in results:
        sh = results["shift"]
        v["shift"] = (sh["exit_code"] == 0 and sh["wall"] < sh["feed_seconds"]
                      and sh["unfinished_at_end"] == sh["feeds_created"]
                      and sh["feeds_exit_code"] == 0 and sh["cancelled_after"] == sh["cancel"])
        runs_ok = runs_ok and sh["done"] == sh["tickets"]
    v["runs"] = runs_ok  # what holds on any machine: every run done, no 429
    v.setdefault("depth", True)
    v.setdefault("no_repeat", True)
    return v


MS = 1000
MARK = {True: "met", False: "NOT met"}
NAMES = {"cancel": "CANCEL", "cannot_cancel": "CANNOT CANCEL"}


def report(results: dict, args: argparse.Namespace) -> str:
    v = verdicts(results, args)
    lines = [
        f"Measured {results['machine']['date']} on {results['machine']['summary']}; "
        f"L = {args.latency * MS:g} ms; phases {', '.join(args.phases)}; run took "
        f"{results['elapsed']:.0f} s.",
    ]
    targets: list[str] = []
    if "startup" in results:
        lines += report_startup(results["startup"], args)
        st = results["startup"]
        typer_s = st[IMPORT_TYPER]["median"]
        targets += [
            f"| Start-up ≤ 1.3 × `import typer` | --help "
            f"{st['cancelbot --help']['median'] / typer_s:.2f}×, --version "
            f"{st['cancelbot --version']['median'] / typer_s:.2f}× | {MARK[v['startup']]} |",
            f"| `process`: first request ≤ 2 × `import typer` | "
            f"{st[PROCESS]['median'] / typer_s:.2f}× | {MARK[v['first_request']]} |",
        ]
    if "tickets" in results:
        lines += report_tickets(results, args)
        s = summary(results)
        targets += [
            f"| Depth CANCEL {LEVELS['cancel']}, CANNOT CANCEL {LEVELS['cannot_cancel']} "
            f"(FRESHDESK_AGENT_ID) | {s['cancel']['depth']:g}, "
            f"{s['cannot_cancel']['depth']:g} | {MARK[v['depth']]} |",
            f"| Wall ≤ levels × L × 1.25 + 2 × import typer | CANCEL "
            f"{s['cancel']['wall'] * MS:.0f} ≤ {s['cancel']['bound'] * MS:.0f} ms, CANNOT CANCEL "
            f"{s['cannot_cancel']['wall'] * MS:.0f} ≤ {s['cannot_cancel']['bound'] * MS:.0f} ms"
            f" | {MARK[v['overhead']]} |",
        ]
    if "rate" in results:
        lines += report_rate(results["rate"])
        r = results["rate"]
        targets.append(f"| Zero 429 over {r['tickets']} tickets | {r['429s']} | "
                       f"{MARK[v['rate']]} |")
    if "scale" in results:
        lines += report_scale(results["scale"], args)
        c = results["scale"]["commands"]
        jobs = f"{results['scale']['journal']['jobs']:,} jobs"
        queue = c[f"queue --list ({QUEUE_TICKETS} open tickets)"]
        targets += [
            f"| `history`, `feeds` < 1 s at {jobs} | {c['history']['full']['median']:.2f} s, "
            f"{c['feeds']['full']['median']:.2f} s | {MARK[v['scale_fast']]} |",
            f"| `queue --list` at {jobs} ≤ 1.2 × empty journal | "
            f"{queue['full']['median'] / queue['empty']['median']:.2f}× | "
            f"{MARK[v['scale_queue']]} |",
        ]
    if "shift" in results:
        lines += report_shift(results["shift"])
        sh = results["shift"]
        targets.append(
            f"| A shift never waits for a feed | {sh['wall']:.1f} s for {sh['tickets']} tickets, "
            f"{sh['unfinished_at_end']}/{sh['feeds_created']} feeds of "
            f"{sh['feed_seconds']:.0f} s still processing at its end, then settled by "
            f"`cancelbot feeds` | {MARK[v['shift']]} |")
    lines += ["", TARGETS_HEADER, "|---|---|---|", *targets]
    return "\n".join(lines)


TARGETS_HEADER = "| Target (issues 5 and 12) | Measured | Verdict |"


def report_startup(st: dict, args: argparse.Namespace) -> list[str]:
    typer_s = st[IMPORT_TYPER]["median"]
    lines = ["", f"| Start-up (median of {args.reps} interleaved runs) | wall | × import typer |",
             "|---|---|---|"]
    for name, row in st.items():
        if name == "imports":
            continue
        label = name if name == PROCESS else f"`{name}`"
        lines.append(f"| {label} | {row['median'] * MS:.0f} ms | {row['median'] / typer_s:.2f} |")
    imports = st["imports"]
    if imports["found_connect"]:
        before = sorted(imports["before_first_request"].items(), key=lambda kv: -kv[1])
        lines += ["", "Imported before `process`'s first request (one run under "
                  "`-X importtime`, self times summed; the flag adds its own overhead): "
                  + ", ".join(f"{name} {ms:.0f} ms" for name, ms in before)
                  + f"; in all {sum(ms for _, ms in before):.0f} ms "
                  f"(after the first request: {imports['after']:.0f} ms)."]
    return lines


def report_tickets(results: dict, args: argparse.Namespace) -> list[str]:
    s = summary(results)
    t = results["tickets"]
    latency = t["latency"]
    lines = [
        "",
        f"{args.n} tickets per branch; Amazon takes {t['feed_seconds']:g} s over a feed on the "
        f"bench's virtual clock, which moves on {t['think']:g} s per ticket (the agent reading "
        "it); no run waits for a feed.",
        "",
        f"Per ticket, with FRESHDESK_AGENT_ID; target wall = levels × L × 1.25 + 2 × import "
        f"typer ({t['import_typer'] * MS:.0f} ms, median of the runs interleaved with these).",
        "",
        "| Branch | runs ok | requests / ticket | sequential depth | median wall | "
        "wall / (depth × L) | target wall | repeated GETs | connections / ticket | "
        "peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for branch, name in NAMES.items():
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
            f"{b['wall'] * MS:.0f} ms | {ratio} | ≤ {b['bound'] * MS:.0f} ms | "
            f"{_repeats(b)} | {b['connections']:g} | {rss} |"
        )
    lines.append("")
    lines.append("The same tickets in one long-lived process (the command called again and "
                 "again, as `cancelbot queue` would; start-up paid once): " + "; ".join(
        f"{NAMES[b]} median {s[b]['warm']['median'] * MS:.0f} ms per ticket "
        f"({s[b]['warm']['ok']}/{s[b]['warm']['runs']} ok, target ≤ {s[b]['bound'] * MS:.0f} ms)"
        if s[b]["warm"]["median"] is not None else f"{NAMES[b]}: failed"
        for b in NAMES
    ) + ".")
    lines.append("")
    lines.append("Where a ticket's wall goes (medians): " + "; ".join(
        f"{NAMES[b]}: start → first request {s[b]['to_first_request'] * MS:.0f} ms, "
        f"last answer → exit {s[b]['after_last_answer'] * MS:.0f} ms, "
        f"depth × L {s[b]['depth'] * latency * MS:.0f} ms"
        + (f", CPU (user + system) {s[b]['cpu'] * MS:.0f} ms" if s[b]["cpu"] is not None else "")
        for b in NAMES
    ) + ".")
    lines.append("")
    lines.append("Ticket by ticket, against the same target: " + "; ".join(
        f"{NAMES[b]} {s[b]['within']}/{s[b]['runs']} within it (walls' middle half "
        f"{s[b]['wall_quartiles'][0] * MS:.0f}–{s[b]['wall_quartiles'][1] * MS:.0f} ms, "
        f"target {s[b]['bound'] * MS:.0f} ms)"
        for b in NAMES
    ) + ".")
    f = t["feeds"]
    lines += ["", f"After the tickets: {f['pending_before']} feed(s) still processing at Amazon; "
              f"its clock moved on {t['feed_seconds']:g} s, then one `cancelbot feeds` "
              f"(exit {f['exit_code']}) took {f['wall'] * MS:.0f} ms, {f['requests']} requests "
              f"at depth {f['depth']}; cancellations in the journal: {f['cancellations']}."]
    return lines


def report_rate(r: dict) -> list[str]:
    return [
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
    ]


def report_shift(sh: dict) -> list[str]:
    return [
        "",
        f"Shift: `cancelbot queue --yes` over {sh['tickets']} tickets ({sh['cancel']} CANCEL), "
        f"Amazon taking {sh['feed_seconds']:.0f} s over each feed on the virtual clock: exit "
        f"{sh['exit_code']}, {sh['done']}/{sh['tickets']} tickets done in **{sh['wall']:.1f} s** "
        f"({sh['wall'] / max(1, sh['tickets']) * MS:.0f} ms per ticket, start-up included); "
        f"{sh['feeds_created']} feeds created, {sh['unfinished_at_end']} still processing when the "
        f"shift ended (none waited for); getFeed during the shift: {sh['get_feed_in_shift']} "
        "(only ever from the shift's own thread, each feed at most every 30 s). Then the clock "
        f"moved {sh['feed_seconds']:.0f} s on: "
        f"`cancelbot feeds` exit {sh['feeds_exit_code']} in {sh['feeds_wall']:.1f} s "
        f"({sh['feeds_requests']} requests), {sh['cancelled_after']}/{sh['cancel']} orders "
        "cancelled on Amazon.",
    ]


def report_scale(sc: dict, args: argparse.Namespace) -> list[str]:
    j = sc["journal"]
    lines = [
        "",
        f"Scale: a journal of {j['jobs']:,} jobs ({j['events']:,} events, "
        f"{j['cancellations']:,} Amazon cancellations and feeds; written in "
        f"{sc['fill_seconds']:.0f} s) against an empty one; median of {args.scale_reps} "
        f"interleaved runs each, output to a pipe; `python -c \"import typer\"` took "
        f"{sc['import_typer'] * MS:.0f} ms in the same runs.",
        "",
        "| Command | empty journal | full journal | full / empty | full, × import typer | "
        "peak RSS (full) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in sc["commands"].items():
        empty, full = row["empty"]["median"], row["full"]["median"]
        rss = f"{row['rss_full']:.0f} MB" if row["rss_full"] else "n/a"
        lines.append(f"| `{name}` | {empty * MS:.0f} ms | {full * MS:.0f} ms | "
                     f"{full / empty:.2f} | {full / sc['import_typer']:.1f} | {rss} |")
    p = sc["search_pages"]
    lines += ["", f"Freshdesk search, {p['pages']} pages of 30 at L = {sc['latency'] * MS:g} ms "
              f"(in one process): one after another {p['one_by_one'] * MS:.0f} ms, "
              f"`search_all` {p['search_all'] * MS:.0f} ms."]
    return lines


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
