"""Durations as people write them in config: `daily`, `weekly`, `24h`, `90d`, `300` (seconds)."""

from __future__ import annotations

import datetime as dt
import re

NAMED = {
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(weeks=1),
    "monthly": dt.timedelta(days=30),
    "quarterly": dt.timedelta(days=91),
}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def format_duration(delta: dt.timedelta) -> str:
    """The shortest config-style spelling: `1d`, `12h`, `90m`, `45s`."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_duration(value: object, *, allow_zero: bool = False) -> dt.timedelta:
    """Parse a duration; raise ValueError with the accepted forms when it is not one.

    Zero is refused unless asked for: a zero schedule or time-out is a mistake, a zero settle
    delay is a choice.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration, not true/false")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and value.strip().lower() in NAMED:
        return NAMED[value.strip().lower()]
    elif isinstance(value, str) and (match := _PATTERN.match(value.lower())):
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        raise ValueError(
            f"{value!r} is not a duration: use hourly, daily, weekly, monthly, quarterly, "
            "or a number with s, m, h, d or w (e.g. 24h, 90d)"
        )
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"{value!r}: a duration must be positive")
    return dt.timedelta(seconds=seconds)
