"""Times as a person reads them: in the agent's time zone, in words of their language.

JSON keeps ISO 8601 in UTC; every screen goes through here. The zone is CANCELBOT_TZ (an IANA
name such as Europe/Paris), else the computer's own.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone, tzinfo

from cancelbot.i18n import N_, _

_DAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"), N_("Jul"),
           N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


def local_zone() -> tzinfo:
    """CANCELBOT_TZ when it names a zone this computer knows, else the computer's own."""
    name = os.environ.get("CANCELBOT_TZ", "").strip()
    if name:
        try:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass  # a typo must not stop a shift: the computer's zone, as without it
        except ImportError:  # pragma: no cover - zoneinfo is in every Python we support
            pass
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else timezone.utc


def parse_utc(value: str | None) -> datetime | None:
    """An ISO 8601 time as stored by cancelbot or sent by the services; None if it is not one."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def clock_time(moment: datetime | str | None, *, now: datetime | None = None) -> str:
    """"14:05" today, "Mon 30 Nov 14:05" another day (in the agent's words), "?" unknown."""
    if isinstance(moment, str) or moment is None:
        moment = parse_utc(moment)
    if moment is None:
        return "?"
    zone = local_zone()
    here = moment.astimezone(zone)
    today = (now or datetime.now(timezone.utc)).astimezone(zone).date()
    if here.date() == today:
        return here.strftime("%H:%M")
    day = f"{_(_DAYS[here.weekday()])} {here.day} {_(_MONTHS[here.month - 1])}"
    if here.year != today.year:
        day += f" {here.year}"
    return f"{day} {here:%H:%M}"


def duration(span: timedelta) -> str:
    """"45 min", "19 h 05", "3 d 4 h": short enough for a table at 80 columns."""
    minutes = int(abs(span.total_seconds()) // 60)
    if minutes < 60:
        return _("{minutes} min").format(minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return _("{hours} h {minutes:02d}").format(hours=hours, minutes=rest)
    return _("{days} d {hours} h").format(days=hours // 24, hours=hours % 24)


def ago(moment: datetime | None, *, now: datetime | None = None) -> str:
    """"received 3 h ago"-style: how long ago, in words, or "at an unknown time"."""
    if moment is None:
        return _("at an unknown time")
    span = (now or datetime.now(timezone.utc)) - moment
    return _("{duration} ago").format(duration=duration(span))
