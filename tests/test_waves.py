"""The picking waves (waves.py): a watching shift asks Amazon at every look in the minutes
before a wave, and less often otherwise, so the searches go where a minute counts."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from typer.testing import CliRunner

from cancelbot.cli import app
from cancelbot.waves import CALM, STEADY, amazon_pacing, in_rush, parse_waves

PARIS_WINTER = timezone(timedelta(hours=1))
WAVES = parse_waves("16:00, 08:00,10:30,13:30")


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, tzinfo=PARIS_WINTER)


def test_waves_are_times_of_the_day_sorted():
    assert WAVES == (time(8), time(10, 30), time(13, 30), time(16))
    for bad in ("", "8h", "10:3", "25:00", "10:30,", "midi"):
        with pytest.raises(ValueError):
            parse_waves(bad)


def test_the_rush_is_the_ten_minutes_before_a_wave_in_the_agents_zone():
    assert not in_rush(WAVES, at(10, 19, 59), PARIS_WINTER)
    assert in_rush(WAVES, at(10, 20), PARIS_WINTER) and in_rush(WAVES, at(10, 29, 59),
                                                                   PARIS_WINTER)
    assert not in_rush(WAVES, at(10, 30), PARIS_WINTER), "picked: the race is over"
    # The same moment seen in UTC is 09:25 in Paris: no wave near.
    assert not in_rush(WAVES, at(10, 25).replace(tzinfo=timezone.utc), PARIS_WINTER)
    # A wave just after midnight, seen from the evening before.
    assert in_rush((time(0, 5),), at(23, 58), PARIS_WINTER)


def test_without_waves_amazon_is_asked_at_its_rate_all_day():
    assert amazon_pacing((), lambda: at(10, 25), PARIS_WINTER) == (STEADY, None)
    every, rush = amazon_pacing(WAVES, lambda: at(10, 25), PARIS_WINTER)
    assert every == CALM and rush is not None and rush()
    # Within searchOrders' plan (one every 3 min, burst 20): calm searches leave room for the
    # burst to refill, and a rush of one search a minute never needs more than the burst.
    assert CALM > STEADY and 10 < 20


def test_bad_waves_are_one_line_and_exit_1(home):
    result = CliRunner().invoke(app, ["queue", "--list", "--sandbox"],
                                env={"CANCELBOT_PICKING_WAVES": "8h,10h30"})
    assert result.exit_code == 1
    assert "CANCELBOT_PICKING_WAVES must be times of the day" in result.output
    assert "Traceback" not in result.output
