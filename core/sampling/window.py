"""The sampling window `[--from, --to)` and the arithmetic of its coverage (clips, holes, spans)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..collector import Period, utc_iso
from .errors import SamplingError


def parse_bound(text: str, option: str) -> dt.datetime:
    """A window bound: `YYYY-MM-DD` is UTC midnight, else ISO 8601 with a zone.

    The same reading as `evidentia export` (it is its `parse_when`), so a sample and an audit pack
    drawn with the same `--from`/`--to` cover the same window, and the pack holds every artefact the
    sample read.
    """
    from ..export.window import ExportError, parse_when

    try:
        return parse_when(text, option)
    except ExportError as exc:
        raise SamplingError(str(exc.args[0]), hint=exc.hint) from None


def make_window(start: str, end: str) -> Period:
    """The half-open window `[--from, --to)`: `--to` is excluded, as every period in the store is."""
    window = Period(parse_bound(start, "--from"), parse_bound(end, "--to"))
    if window.end <= window.start:
        raise SamplingError(
            f"the window [{start}, {end}) is empty: --to must come after --from",
            hint="--to is excluded: --from 2026-01-01 --to 2027-01-01 is the year 2026",
        )
    return window


def clip(periods: Sequence[Period], window: Period) -> list[Period]:
    """The parts of `periods` inside the window; periods wholly outside it drop out."""
    out = []
    for p in periods:
        start, end = max(p.start, window.start), min(p.end, window.end)
        if start < end:
            out.append(Period(start, end))
    return out


def gaps(covered: Sequence[Period], window: Period) -> list[Period]:
    """The parts of the window no successful run covered, including before the first and after the last."""
    holes, cursor = [], window.start
    for p in covered:
        if p.start > cursor:
            holes.append(Period(cursor, p.start))
        cursor = max(cursor, p.end)
    if cursor < window.end:
        holes.append(Period(cursor, window.end))
    return holes


def span(period: Period) -> str:
    return f"[{utc_iso(period.start)}, {utc_iso(period.end)})"


def span_list(periods: Sequence[Period]) -> str:
    return ", ".join(span(p) for p in periods) or "nothing"
