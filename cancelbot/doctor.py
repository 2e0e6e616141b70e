"""`cancelbot doctor`: is everything a shift needs in place? One cheap authenticated call per
configured service, then what is automated or assisted, the templates, the journal, the clock
and the age of the LWA secret. The result is data (a `Report`); render.py shows it.

    Freshdesk   GET /api/v2/agents/me          (the key's agent; FRESHDESK_AGENT_ID compared)
    GSTK        GET {GSTK_URL}/orders?marketplace_order_id=000-0000000-0000000  (200, empty)
    Amazon      LWA login, then one call per SP-API role cancelbot uses (403: role missing;
                200, or 404/400 for the made-up order: the role is there)
                  Orders     getOrder on a number no seller has
                  Feeds      getFeeds of the cancellation feed type, created from now on
                  Messaging  getAttributes of that order (the call that asks the buyer's language)

Each call gets one try and the configured timeouts, and the three services run at once. An
empty FRESHDESK_FROM_EMAIL is a warning: Amazon relays only mail from the approved address.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from msgspec import Struct, field

from cancelbot import __version__, marketplaces, messages
from cancelbot.config import Settings, load_settings, template_settings
from cancelbot.errors import (
    AuthError,
    BadResponse,
    CancelbotError,
    ConfigError,
    NotFound,
    RateLimited,
    ServiceError,
    Unreachable,
)
from cancelbot.i18n import N_, _

OK, FAILED, WARNING, INFO = "ok", "failed", "warning", "info"
NO_SUCH_ORDER = "000-0000000-0000000"  # well formed, never anyone's order
# The checks' names stay English in JSON; the screen shows them in the agent's language.
CHECK_NAMES = (N_("Configuration"), N_("Reply address"), N_("Clock"), N_("Steps"),
               N_("Journal"), N_("Agent id"), N_("Templates"), N_("Home"), N_("LWA secret"),
               N_("Old journal"))
SECRET_LIFETIME_DAYS = 180  # Amazon expires LWA client secrets after 180 days
SECRET_WARN_DAYS = 150
SKEW_LIMIT_SECONDS = 300


class Check(Struct, frozen=True):
    name: str
    status: str  # OK, FAILED, WARNING, INFO
    detail: str


class Report(Struct):
    checks: list[Check] = field(default_factory=list)
    sandbox: bool = False
    steps: dict[str, str] = field(default_factory=dict)  # system → "automated" / "assisted"
    templates: dict[str, str] = field(default_factory=dict)  # language → "ok" / the error
    templates_folder: str = ""
    journal: str | None = None
    version: str = __version__

    @property
    def ok(self) -> bool:
        return all(c.status != FAILED for c in self.checks)

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name, status, detail))


def run_doctor(
    *,
    sandbox: bool,
    transport: httpx.BaseTransport | None = None,
    today: date | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Report:
    """Check everything; never raises for what it finds (a broken setup is the answer)."""
    report = Report(sandbox=sandbox)
    try:
        settings = load_settings(sandbox=sandbox)
    except ConfigError as exc:
        report.add("Configuration", FAILED, str(exc))
        folder, _language = template_settings()
        _check_templates(report, folder)
        return report
    report.add("Configuration", OK, _("sandbox (simulated services)") if sandbox
               else _("from the environment and .env"))
    # Nothing works without this world's folder: a StateError here is the answer, in one line.
    settings.world.prepare()
    if not settings.sandbox and not settings.freshdesk.from_email:
        report.add("Reply address", WARNING, _(
            "FRESHDESK_FROM_EMAIL is empty: replies leave from Freshdesk's default address, and "
            "Amazon relays to the buyer only mail from the address approved in Seller Central"))
    if transport is None and settings.sandbox:
        from cancelbot.sandbox.transport import SandboxTransport

        transport = SandboxTransport(settings.home)

    checks: list[tuple[str, Callable[[], list[Check]]]] = [
        ("Freshdesk", lambda: _freshdesk(settings, transport)),
    ]
    if settings.gstk.url:
        checks.append(("GSTK", lambda: _gstk(settings, transport)))
    if settings.amazon.automated:
        checks.append(("Amazon", lambda: _amazon(settings, transport, now)))
    checks.append(("Clock", lambda: _clock(settings, transport, now)))
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        futures = [(name, pool.submit(fn)) for name, fn in checks]
        for name, future in futures:
            try:
                report.checks.extend(future.result())
            except CancelbotError as exc:
                report.add(name, FAILED, _reason(exc))

    report.steps = {
        "Freshdesk": "automated",
        "GSTK": "automated" if settings.gstk.url else "assisted (GSTK_URL not set)",
        "Amazon": "automated" if settings.amazon.automated
        else "assisted (SP-API credentials not set)",
    }
    report.add("Steps", INFO, " · ".join((
        _("Freshdesk automated"),
        _("GSTK automated") if settings.gstk.url else _("GSTK assisted (GSTK_URL not set)"),
        _("Amazon automated") if settings.amazon.automated
        else _("Amazon assisted (SP-API credentials not set)"))))
    _check_templates(report, settings.templates_dir)
    report.journal = journal_location(settings)
    report.add("Journal", INFO, _journal_detail(settings, report.journal))
    _check_old_journal(report, settings)
    _check_home(report)
    _check_secret_age(report, settings, today or now().date())
    return report


def _freshdesk(settings: Settings, transport: httpx.BaseTransport | None) -> list[Check]:
    from cancelbot.services.freshdesk import FreshdeskClient

    with FreshdeskClient(settings.freshdesk, transport=transport, timeout=_timeout(settings),
                         retry=_one_try()) as client:
        me = client.me()
    name = me["name"] or _("agent")
    who = f"{name} <{me['email']}>" if me["email"] else name
    out = [Check("Freshdesk", OK, _("signed in as {who}, agent {id} · {url}").format(
        who=who, id=me["id"], url=settings.freshdesk.url))]
    configured = settings.freshdesk.agent_id
    if configured is None:
        out.append(Check("Agent id", WARNING, _(
            "FRESHDESK_AGENT_ID is not set: `queue` leaves every assigned ticket alone (yours "
            "is {id})").format(id=me["id"])))
    elif configured != me["id"]:
        out.append(Check("Agent id", FAILED, _(
            "FRESHDESK_AGENT_ID is {configured} but this API key belongs to agent {id}").format(
            configured=configured, id=me["id"])))
    else:
        out.append(Check("Agent id", OK, _("FRESHDESK_AGENT_ID {configured} is this key's "
                                           "agent").format(configured=configured)))
    return out


def _gstk(settings: Settings, transport: httpx.BaseTransport | None) -> list[Check]:
    from cancelbot.services.gstk import GstkClient
    from cancelbot.statuses import StatusTable

    with GstkClient(settings.gstk, status_table=StatusTable.from_config(settings.gstk.status_map),
                    transport=transport, timeout=_timeout(settings), retry=_one_try()) as client:
        found = client.find_order(NO_SUCH_ORDER)
    if found is not None:
        return [Check("GSTK", WARNING, _("answers, but found an order for {order}").format(
            order=NO_SUCH_ORDER))]
    return [Check("GSTK", OK, _("orders readable · {url}").format(url=settings.gstk.url))]


def _amazon(
    settings: Settings, transport: httpx.BaseTransport | None, now: Callable[[], datetime]
) -> list[Check]:
    from cancelbot.services.amazon import AmazonClient

    # No token cache: the point is to log in with the configured credentials now.
    with AmazonClient(settings.amazon, transport=transport, timeout=_timeout(settings),
                      retry=_one_try(), token_cache=None) as client:
        # The first call logs in: a refused login (or no answer) is the Amazon line's ✗.
        orders = _role("Orders", "getOrder", _("Inventory and Order Tracking"),
                       lambda: client.get_order(NO_SUCH_ORDER), first=True)
        since = now().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        roles = [
            orders,
            _role("Feeds", "getFeeds", _("the role that sends order feeds "
                                         "(POST_ORDER_ACKNOWLEDGEMENT_DATA)"),
                  lambda: client.list_feeds(since)),
            _role("Messaging", "getAttributes", _("Buyer Communication"),
                  lambda: client.buyer_locale(NO_SUCH_ORDER, marketplaces.FRANCE)),
        ]
    return [Check("Amazon", OK, _("LWA login · {url}").format(url=settings.amazon.endpoint)),
            *roles]


def _role(
    api: str, operation: str, role: str, call: Callable[[], object], *, first: bool = False
) -> Check:
    """One SP-API role, by one cheap call: refused (403) means the app lacks the role; an
    answer, or 404/400 about the made-up order, means Amazon let the call through."""
    name = f"{api} API"  # Amazon's API names; at most as wide as "Configuration"
    try:
        call()
    except AuthError as exc:
        if exc.status != 403:
            raise  # the login itself was refused: the Amazon line says so
        request = _(", request id {id}").format(id=exc.request_id) if exc.request_id else ""
        return Check(name, FAILED, _("role missing: {role} ({operation} refused with HTTP "
                                     "403{request})").format(role=role, operation=operation,
                                                             request=request))
    except ServiceError as exc:
        if exc.status in (400, 404):
            return Check(name, OK, _("{operation} let through (HTTP {status} for a made-up "
                                     "order): role granted").format(operation=operation,
                                                                    status=exc.status))
        if first:
            raise
        return Check(name, FAILED, _reason(exc))
    return Check(name, OK, _("{operation} answered: role granted").format(operation=operation))


def _clock(
    settings: Settings, transport: httpx.BaseTransport | None, now: Callable[[], datetime]
) -> list[Check]:
    """Compare this computer's clock with Freshdesk's `Date` header (a plain HEAD)."""
    try:
        with httpx.Client(transport=transport, timeout=_timeout(settings)) as http:
            response = http.head(settings.freshdesk.url)
        server = parsedate_to_datetime(response.headers["Date"])
        if server.tzinfo is None:  # "-0000": UTC, with no claim about the sender's zone
            server = server.replace(tzinfo=timezone.utc)
        skew = (now() - server).total_seconds()
    except (httpx.HTTPError, KeyError, TypeError, ValueError, IndexError, OverflowError):
        return [Check("Clock", INFO, _("not measured (no usable Date from Freshdesk)"))]
    if abs(skew) <= SKEW_LIMIT_SECONDS:
        return [Check("Clock", OK, _("within {seconds} s of Freshdesk's").format(
            seconds=max(1, round(abs(skew)))))]
    text = _("{minutes} min ahead of Freshdesk's: token expiry and TLS certificates depend on "
             "it — sync the system clock") if skew > 0 else _(
        "{minutes} min behind Freshdesk's: token expiry and TLS certificates depend on it — "
        "sync the system clock")
    return [Check("Clock", WARNING, text.format(minutes=f"{abs(skew) / 60:.0f}"))]


def _check_templates(report: Report, configured: Path | None) -> None:
    from cancelbot import marketplaces

    try:
        folder = messages.templates_dir(configured)
    except CancelbotError as exc:
        report.add("Templates", FAILED, str(exc))
        return
    report.templates_folder = str(folder)
    for code in messages.available_languages(folder):
        try:
            messages.render_reply(folder, code, order_id="402-0000000-0000000",
                                  agent_name="Agent")
            report.templates[code] = OK
        except CancelbotError as exc:
            report.templates[code] = str(exc)
    needed = sorted({m.language for m in marketplaces.MARKETPLACES.values()})
    missing = [code for code in needed if code not in report.templates]
    broken = [f"{code}: {why}" for code, why in report.templates.items() if why != OK]
    if missing or broken:
        problems = ([_("missing {languages}").format(languages=", ".join(missing))]
                    if missing else []) + broken
        report.add("Templates", FAILED, "; ".join(problems) + f" ({folder})")
    else:
        report.add("Templates", OK, _("{languages} render · {folder}").format(
            languages=", ".join(report.templates), folder=folder))


def _check_home(report: Report) -> None:
    """Say so when cancelbot's files stay in the earlier default folder (config.default_home)."""
    from platformdirs import user_data_dir

    from cancelbot.config import default_home

    if os.environ.get("CANCELBOT_HOME", "").strip():
        return
    home, platform_home = default_home(), Path(user_data_dir("cancelbot", appauthor=False))
    if home != platform_home:
        report.add("Home", INFO, _(
            "{home}: the earlier default folder, kept because it holds your files (the default "
            "is now {platform}: move them there, or set CANCELBOT_HOME)").format(
            home=home, platform=platform_home))


def _check_secret_age(report: Report, settings: Settings, today: date) -> None:
    if not settings.amazon.automated:
        return
    raw = settings.amazon.client_secret_date
    if not raw:
        report.add("LWA secret", INFO, _("age unknown: set LWA_CLIENT_SECRET_DATE (YYYY-MM-DD) "
                                         "to be warned before Amazon expires it"))
        return
    try:
        created = date.fromisoformat(raw)
    except ValueError:
        report.add("LWA secret", WARNING, _("LWA_CLIENT_SECRET_DATE {value!r} is not "
                                            "YYYY-MM-DD").format(value=raw))
        return
    age = (today - created).days
    left = SECRET_LIFETIME_DAYS - age
    if left <= 0:
        report.add("LWA secret", FAILED, _("{age} days old: past Amazon's {lifetime} days — "
                                           "rotate it in the Developer Console").format(
            age=age, lifetime=SECRET_LIFETIME_DAYS))
    elif age >= SECRET_WARN_DAYS:
        report.add("LWA secret", WARNING, _("{age} days old: Amazon expires it in {left} days — "
                                            "rotate it soon").format(age=age, left=left))
    else:
        report.add("LWA secret", OK, _("{age} days old ({left} days before it expires)").format(
            age=age, left=left))


def journal_location(settings: Settings) -> str | None:
    """Where this world's journal lives (journal.py), when this cancelbot has one."""
    if importlib.util.find_spec("cancelbot.journal") is None:
        return None
    from cancelbot.journal import FILE_NAME

    return str(settings.state_dir / FILE_NAME)


def _journal_detail(settings: Settings, location: str | None) -> str:
    """The world first, then the path from CANCELBOT_HOME on: a long home may be cut short."""
    if location is None:
        return _("none in this version of cancelbot")
    world = settings.world
    path = Path(location)
    where = path.relative_to(settings.home) if path.is_relative_to(settings.home) else path
    text = _("{world}: {path} in {home}") if path.exists() \
        else _("{world}: {path} (created by the first change) in {home}")
    return text.format(world=_("the sandbox") if world.sandbox else world.label,
                       path=where.as_posix(), home=settings.home)


def _check_old_journal(report: Report, settings: Settings) -> None:
    """A journal from before the worlds (CANCELBOT_HOME/journal.sqlite3) is never used: it may
    mix sandbox and real runs. Said once, so whoever holds it decides what to do with it."""
    from cancelbot.journal import FILE_NAME

    old = settings.home / FILE_NAME
    if old.exists():
        report.add("Old journal", INFO, _(
            "{file} in CANCELBOT_HOME is an older cancelbot's, where the sandbox's runs and the "
            "real ones were mixed: not used — look through it (sqlite3), then delete it · {path}"
        ).format(file=FILE_NAME, path=old))


def _reason(exc: CancelbotError) -> str:
    kind = (
        _("bad credentials") if isinstance(exc, AuthError)
        else _("wrong URL? (not found)") if isinstance(exc, NotFound)
        else _("unreachable") if isinstance(exc, Unreachable)
        else _("rate limited") if isinstance(exc, RateLimited)
        else _("unexpected answer (wrong URL?)") if isinstance(exc, BadResponse)
        else _("error")
    )
    return f"{kind}: {_without_service(exc)}"


def _without_service(exc: CancelbotError) -> str:
    text = str(exc)
    if isinstance(exc, ServiceError) and text.startswith(f"{exc.service}: "):
        text = text[len(exc.service) + 2:]
    return text


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)


def _one_try():
    from cancelbot.services.http import RetryPolicy

    return RetryPolicy(attempts=1)
