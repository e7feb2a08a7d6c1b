"""Turning the run's period into JQL, and deciding membership exactly.

JQL compares dates at minute precision in the searching user's time zone, so `resolved >= "…"`
cannot express [start, end) to the second. The search asks for a slightly wider window (whole
minutes in the user's zone, plus an hour either side against daylight-saving folds), and each
returned issue is kept only if its own timestamp lies in [start, end). Consecutive runs share their
boundary, so an issue is counted in exactly one period: no gap, no duplicate.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from evidentia import Period

MARGIN = dt.timedelta(hours=1)
UNKNOWN_ZONE_MARGIN = dt.timedelta(hours=27)  # every UTC offset, plus a daylight-saving fold
_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)
# JQL names of the date fields a period can be applied to, and the issue field holding each value.
PERIOD_FIELDS = {"resolved": "resolutiondate", "updated": "updated", "created": "created"}


def user_zone(myself: dict[str, Any] | None) -> dt.tzinfo | None:
    """The zone JQL dates are read in: the searching user's profile time zone, if Jira says."""
    name = (myself or {}).get("timeZone")
    if not name:
        return None
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(str(name))
    except (ValueError, KeyError, OSError):
        return None


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def jql_window(jql_field: str, period: Period, zone: dt.tzinfo | None) -> str:
    """`resolved >= "2025/01/01 09:59" AND resolved < "…"`: a window that covers the period."""
    margin = MARGIN if zone is not None else UNKNOWN_ZONE_MARGIN
    zone = zone or dt.timezone.utc
    low = _minute((period.start - margin).astimezone(zone))
    high = _minute((period.end + margin).astimezone(zone)) + dt.timedelta(minutes=1)
    fmt = "%Y/%m/%d %H:%M"
    return f'{jql_field} >= "{low.strftime(fmt)}" AND {jql_field} < "{high.strftime(fmt)}"'


def split_order(jql: str) -> tuple[str, str]:
    """(condition, ORDER BY clause or "") of a user's JQL."""
    match = _ORDER_BY.search(jql)
    if not match:
        return jql.strip(), ""
    return jql[: match.start()].strip(), match.group(0).strip()


def combine(jql: str, *clauses: str, order: str = "ORDER BY key ASC") -> str:
    """The user's condition AND our clauses, ordered by key so offset pages stay stable."""
    condition, _ = split_order(jql)
    parts = [f"({condition})"] if condition else []
    parts += [c for c in clauses if c]
    return f"{' AND '.join(parts)} {order}".strip()


def parse_time(value: Any) -> dt.datetime | None:
    """A Jira timestamp (`2025-01-02T10:00:00.000+0000`), date (`2025-01-02`, as UTC midnight), or
    epoch number (seconds or milliseconds, as Atlassian's bulk-changelog example shows)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 10**11 else value
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def utc_text(moment: dt.datetime) -> str:
    """A moment as evidence writes it everywhere: ISO 8601 in UTC with `Z`."""
    return moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def in_period(value: Any, period: Period) -> bool:
    moment = parse_time(value)
    return moment is not None and period.contains(moment)
