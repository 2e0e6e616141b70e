"""The warehouse's picking waves: when a minute found on a cancellation counts.

Every order awaiting preparation at a wave is picked at it. A buyer's request made at 10:35
for a 13:30 wave has hours; one made at 10:24 for the 10:30 wave has minutes. So a watching
shift that knows the waves (CANCELBOT_PICKING_WAVES, times of the agent's day) spends Amazon's
searches where they count:

    in the RUSH minutes before a wave   searchOrders at every look of the shift (every minute):
                                        at most RUSH / 60 searches, paid by the burst of 20
    otherwise                           every CALM seconds (5 min), a little under the usage
                                        plan's rate (one every 3 min), so the burst refills
                                        between two waves

Without waves the shift asks Amazon every 3 minutes, all day: the plan's rate, evenly spent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta, tzinfo

RUSH = 10 * 60  # seconds before a wave when every look asks Amazon too
CALM = 5 * 60.0  # seconds between two searches otherwise, when the waves are known
STEADY = 3 * 60.0  # seconds between two searches when they are not: searchOrders' rate


def parse_waves(text: str) -> tuple[time, ...]:
    """"08:00,10:30,13:30,16:00" → the times, sorted; ValueError for anything else."""
    waves = []
    for part in text.split(","):
        hours, sep, minutes = part.strip().partition(":")
        if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
            raise ValueError(part.strip())
        waves.append(time(int(hours), int(minutes)))  # ValueError past 23:59
    return tuple(sorted(set(waves)))


def in_rush(waves: Sequence[time], now: datetime, zone: tzinfo, rush: float = RUSH) -> bool:
    """True in the `rush` seconds before one of the waves (times of the day in `zone`)."""
    local = now.astimezone(zone)
    for wave in waves:
        for day in (0, 1):  # a wave just after midnight, seen from the evening before
            at = datetime.combine(local.date() + timedelta(days=day), wave, tzinfo=zone)
            if timedelta(0) < at - local <= timedelta(seconds=rush):
                return True
    return False


def amazon_pacing(waves: Sequence[time], now: Callable[[], datetime],
                  zone: tzinfo) -> tuple[float, Callable[[], bool] | None]:
    """(seconds between two searches outside a rush, the rush test) for queue.Watch."""
    if not waves:
        return STEADY, None
    return CALM, lambda: in_rush(waves, now(), zone)
