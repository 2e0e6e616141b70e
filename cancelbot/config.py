"""Configuration from the environment and a `.env` file, checked once, before any call.

Only Freshdesk is mandatory. GSTK and SP-API each switch to their assisted form (the agent does
the step by hand, the tool shows the link) when their variables are absent. `.env.example`
lists every variable.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct

from cancelbot.errors import ConfigError
from cancelbot.i18n import _
from cancelbot.services.http import check_base_url
from cancelbot.text import one_line
from cancelbot.waves import parse_waves

if TYPE_CHECKING:
    from cancelbot.worlds import World

DEFAULT_LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_SPAPI_ENDPOINT = "https://sellingpartnerapi-eu.amazon.com"
DEFAULT_QUEUE_QUERY = "status:2"  # open tickets
HOUR, DAY = 3600.0, 86400.0
MAX_TIMEOUT = 600.0  # seconds: longer than any answer is worth waiting for
SANDBOX_FEED_SECONDS = 25.0
SPAPI_VARIABLES = ("LWA_CLIENT_ID", "LWA_CLIENT_SECRET", "SPAPI_REFRESH_TOKEN", "SPAPI_SELLER_ID")


def repr_without(record: Struct, *secrets: str) -> str:
    """`record`'s repr without the fields that hold a secret: settings or a token printed by
    mistake (a debug line, a crash report) never show one."""
    shown = ", ".join(f"{name}={getattr(record, name)!r}" for name in record.__struct_fields__
                      if name not in secrets)
    return f"{type(record).__name__}({shown})"


class FreshdeskSettings(Struct, frozen=True):
    url: str
    api_key: str
    from_email: str = ""
    agent_id: int | None = None
    # Freshdesk counts the account's API calls per minute (per hour on some plans).
    rate_window: float = 60.0

    def __repr__(self) -> str:
        return repr_without(self, "api_key")


class GstkSettings(Struct, frozen=True):
    url: str  # "" → assisted
    token: str = ""
    order_link: str = ""  # e.g. https://gstk.example.com/orders/{order_id}
    status_map: str = ""

    def __repr__(self) -> str:
        return repr_without(self, "token")


class AmazonSettings(Struct, frozen=True):
    endpoint: str
    lwa_token_url: str
    client_id: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    seller_id: str = ""
    client_secret_date: str = ""  # YYYY-MM-DD the LWA secret was created, for `doctor`

    def __repr__(self) -> str:
        return repr_without(self, "client_secret", "refresh_token")

    @property
    def automated(self) -> bool:
        return bool(self.client_id and self.client_secret and self.refresh_token and self.seller_id)


class Settings(Struct, frozen=True):
    freshdesk: FreshdeskSettings
    gstk: GstkSettings
    amazon: AmazonSettings
    home: Path
    templates_dir: Path | None = None
    agent_name: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    sandbox: bool = False
    queue_query: str = DEFAULT_QUEUE_QUERY  # Freshdesk search query of `cancelbot queue`
    queue_tag: str = ""  # a ticket with this tag is a cancellation request
    sandbox_latency: float = 0.0  # seconds added to every sandbox answer (demos, timings)
    sandbox_feed_seconds: float = 25.0  # how long the sandbox's Amazon takes over a feed
    claim_lease: float = 30.0  # minutes after which another run's unfinished claim is stale
    picking_waves: tuple[time, ...] = ()  # the warehouse's waves, in the agent's time zone

    @property
    def world(self) -> World:
        """The sandbox, or this real account: whose local state a run may see (worlds.py)."""
        from cancelbot.worlds import account_world, sandbox_world

        if self.sandbox:
            return sandbox_world(self.home)
        return account_world(self.home, self.freshdesk.url, self.gstk.url,
                             self.amazon.seller_id)

    @property
    def state_dir(self) -> Path:
        """The world's own folder in CANCELBOT_HOME (`world.prepare()` creates it)."""
        return self.world.state_dir

    def secrets(self) -> tuple[str, ...]:
        """Every credential configured: what no screen, document or note may show, whatever
        wrote it (a server today, an older cancelbot in the journal)."""
        return tuple(s for s in (self.freshdesk.api_key, self.gstk.token,
                                 self.amazon.client_secret, self.amazon.refresh_token) if s)


def load_dotenv_file() -> None:
    """Read `.env` from the current folder without overriding the real environment.

    A file that is not UTF-8 text, or holds a NUL byte (which no environment variable can),
    is a ConfigError naming the line, not a traceback.
    """
    path = Path.cwd() / ".env"
    if not path.is_file():
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(_(".env cannot be read ({reason})").format(
            reason=exc.strerror or type(exc).__name__)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(_(".env is not UTF-8 text (line {line}): save it as UTF-8").format(
            line=line)) from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise ConfigError(_(".env holds a NUL byte (line {line})").format(line=line))
    from dotenv import dotenv_values

    for name, value in dotenv_values(stream=io.StringIO(text)).items():
        if value is None or name in os.environ:
            continue
        try:
            os.environ[name] = value
        except (ValueError, OSError):  # "=" in a name, an escaped NUL in a value…
            raise ConfigError(_(".env: {name!r} cannot be set as an environment variable (a NUL "
                                "or '=' in it?)").format(name=one_line(name, 60))) from None


def default_home() -> Path:
    """The platform's user data folder: ~/.local/share/cancelbot on Linux, ~/Library/Application
    Support/cancelbot on macOS, %LOCALAPPDATA%\\cancelbot on Windows. The previous default
    (`previous_default_home()`) stays in use while it exists and the new one does not, so the
    journal, token cache and sandbox of an earlier install are not left behind."""
    from platformdirs import user_data_dir

    new = Path(user_data_dir("cancelbot", appauthor=False))
    if new.exists():  # the usual case, decided without loading Typer for the earlier path
        return new
    old = previous_default_home()
    if old != new and old.is_dir():
        return old
    return new


def previous_default_home() -> Path:
    """The earlier default: click's app folder (~/.config/cancelbot on Linux)."""
    import typer  # click's get_app_dir: Typer vendors click, which may not be installed

    return Path(typer.get_app_dir("cancelbot"))


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env["CANCELBOT_HOME"]) if env.get("CANCELBOT_HOME") else default_home()


def is_sandbox(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("CANCELBOT_SANDBOX", "").strip().lower() in ("1", "true", "yes", "on")


def load_settings(env: Mapping[str, str] | None = None, *, sandbox: bool = False) -> Settings:
    """Build Settings from `env` (default: os.environ); raise ConfigError naming what is wrong."""
    # Imported here: httpx comes with it, and history, templates and sandbox list read the
    # configuration without calling any service.

    env = dict(os.environ if env is None else env)
    home = home_dir(env)
    if sandbox:
        from cancelbot.sandbox.hosts import sandbox_environment

        env.update(sandbox_environment())

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    missing = [n for n in ("FRESHDESK_URL", "FRESHDESK_API_KEY") if not get(n)]
    present_amazon = [n for n in SPAPI_VARIABLES if get(n)]
    if present_amazon and len(present_amazon) < len(SPAPI_VARIABLES):
        missing += [n for n in SPAPI_VARIABLES if not get(n)]
    if get("GSTK_URL") and not get("GSTK_TOKEN"):
        missing.append("GSTK_TOKEN")
    if missing:
        raise ConfigError(_("missing configuration: {names} (see .env.example, or try "
                            "--sandbox)").format(names=", ".join(missing)))

    agent_id = get("FRESHDESK_AGENT_ID")
    # isdigit() is true for "²", which int() refuses: ASCII decimal digits only.
    if agent_id and not (agent_id.isascii() and agent_id.isdecimal() and len(agent_id) < 19):
        raise ConfigError(_("FRESHDESK_AGENT_ID must be a number (the agent's Freshdesk id)"))
    order_link = get("GSTK_ORDER_LINK")
    if order_link and "{order_id}" not in order_link:
        raise ConfigError(_("GSTK_ORDER_LINK must contain {placeholder}").format(
            placeholder="{order_id}"))
    if order_link:  # a link shown on screen: the same rules as every URL (no password in it)
        check_base_url("GSTK_ORDER_LINK", order_link.replace("{order_id}", "0"))

    return Settings(
        freshdesk=FreshdeskSettings(
            url=check_base_url("FRESHDESK_URL", get("FRESHDESK_URL")),
            api_key=get("FRESHDESK_API_KEY"),
            from_email=get("FRESHDESK_FROM_EMAIL"),
            agent_id=int(agent_id) if agent_id else None,
            rate_window=_seconds(get, "FRESHDESK_RATE_WINDOW", 60.0, maximum=DAY),
        ),
        gstk=GstkSettings(
            url=check_base_url("GSTK_URL", get("GSTK_URL")) if get("GSTK_URL") else "",
            token=get("GSTK_TOKEN"),
            order_link=order_link,
            status_map=get("GSTK_STATUS_MAP"),
        ),
        amazon=AmazonSettings(
            endpoint=check_base_url(
                "SPAPI_ENDPOINT", get("SPAPI_ENDPOINT") or DEFAULT_SPAPI_ENDPOINT
            ),
            lwa_token_url=check_base_url(
                "LWA_TOKEN_URL", get("LWA_TOKEN_URL") or DEFAULT_LWA_TOKEN_URL
            ),
            client_id=get("LWA_CLIENT_ID"),
            client_secret=get("LWA_CLIENT_SECRET"),
            refresh_token=get("SPAPI_REFRESH_TOKEN"),
            seller_id=get("SPAPI_SELLER_ID"),
            client_secret_date=get("LWA_CLIENT_SECRET_DATE"),
        ),
        home=home,
        templates_dir=Path(get("CANCELBOT_TEMPLATES")) if get("CANCELBOT_TEMPLATES") else None,
        agent_name=get("CANCELBOT_AGENT_NAME"),
        connect_timeout=_seconds(get, "CANCELBOT_CONNECT_TIMEOUT", 5.0, maximum=MAX_TIMEOUT),
        read_timeout=_seconds(get, "CANCELBOT_READ_TIMEOUT", 30.0, maximum=MAX_TIMEOUT),
        sandbox=sandbox,
        queue_query=get("CANCELBOT_QUEUE_QUERY") or DEFAULT_QUEUE_QUERY,
        queue_tag=get("CANCELBOT_QUEUE_TAG"),
        sandbox_latency=_seconds(get, "CANCELBOT_SANDBOX_LATENCY", 0.0, maximum=MAX_TIMEOUT)
        if sandbox else 0.0,
        sandbox_feed_seconds=sandbox_feed_seconds(env) if sandbox else SANDBOX_FEED_SECONDS,
        # CANCELBOT_FEED_WAIT (earlier versions) is no longer read: no run waits for Amazon.
        claim_lease=_minutes(get, "CANCELBOT_CLAIM_LEASE", 30.0),
        picking_waves=_waves(get("CANCELBOT_PICKING_WAVES")),
    )


def _waves(raw: str) -> tuple[time, ...]:
    if not raw:
        return ()
    try:
        return parse_waves(raw)
    except ValueError:
        raise ConfigError(_("CANCELBOT_PICKING_WAVES must be times of the day, such as "
                            "08:00,10:30,13:30,16:00")) from None


def template_settings(env: Mapping[str, str] | None = None) -> tuple[Path | None, str]:
    """(CANCELBOT_TEMPLATES, CANCELBOT_AGENT_NAME): all `cancelbot templates` needs, without
    the Freshdesk settings every other command requires."""
    env = os.environ if env is None else env
    folder = env.get("CANCELBOT_TEMPLATES", "").strip()
    return (Path(folder) if folder else None), env.get("CANCELBOT_AGENT_NAME", "").strip()


def _minutes(get, name: str, default: float) -> float:
    raw = get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1
    if not 0 < value <= DAY / 60:  # also refuses nan and inf
        raise ConfigError(_("{name} must be a positive number of minutes, at most {maximum}"
                            ).format(name=name, maximum=f"{DAY / 60:.0f}"))
    return value


def sandbox_feed_seconds(env: Mapping[str, str] | None = None) -> float:
    """CANCELBOT_SANDBOX_FEED_SECONDS: how long the sandbox's Amazon takes to process a feed
    (default 25: long enough to see a run leave it pending and a later one settle it)."""
    env = os.environ if env is None else env
    return _seconds(lambda name: env.get(name, "").strip(), "CANCELBOT_SANDBOX_FEED_SECONDS",
                    SANDBOX_FEED_SECONDS, allow_zero=True, maximum=HOUR)


def _seconds(
    get, name: str, default: float, *, allow_zero: bool = False, maximum: float = DAY
) -> float:
    raw = get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    # 1e308 is a float, but no timer takes it (OverflowError deep in the socket layer).
    if value < 0 or (value == 0 and not allow_zero) or not value <= maximum:
        text = _("{name} must be a number of seconds, 0 or more, at most {maximum}") \
            if allow_zero else _("{name} must be a positive number of seconds, at most {maximum}")
        raise ConfigError(text.format(name=name, maximum=f"{maximum:g}"))
    return value
