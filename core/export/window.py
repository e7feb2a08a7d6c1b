"""Which ledger entries an audit pack holds for an observation window, and why each is there.

The same function decides at export and at verification (applied to the pack's own ledger
segment), so `evidentia verify pack.zip` can tell a pack that leaves out evidence it should hold
from one that was filtered on purpose.

The window is half-open, `[from, to)`, like every period in the store: `--to 2026-04-01` ends it at
the last instant of 31 March, and consecutive windows neither overlap nor leave a gap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EvidentiaError
from ..report.source import parse_time

IN_WINDOW = "filed in the window"
IN_FORCE = "snapshot in force at the window's start"
SAME_AS = "the filing an 'unchanged' observation in the window points at"
CATALOGUE_IN_FORCE = "catalogue in force at the window's start"
CATALOGUE = "catalogue filed in the window"
RUN = "run record filed in the window"


class ExportError(EvidentiaError):
    """An export that cannot be made as asked (bad dates, an empty window, an existing --out)."""


def parse_when(text: str, option: str) -> dt.datetime:
    """`2026-01-01` (UTC midnight) or full ISO 8601 with a zone (`2026-01-01T12:00:00Z`)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ExportError(
            f"{option} {text!r} is not a date", hint="use YYYY-MM-DD (UTC midnight) or ISO 8601 with a zone"
        ) from None
    if moment.tzinfo is None:
        raise ExportError(
            f"{option} {text!r} has no time zone", hint="add Z for UTC, e.g. 2026-01-01T00:00:00Z"
        )
    return moment.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Window:
    """An observation window with optional principle and control filters (matching either)."""

    start: dt.datetime
    end: dt.datetime
    principles: tuple[str, ...] = ()
    controls: tuple[str, ...] = ()

    def contains(self, entry: Mapping[str, Any]) -> bool:
        moment = parse_time(entry.get("recorded_at"))
        return moment is not None and self.start <= moment < self.end

    def before(self, entry: Mapping[str, Any]) -> bool:
        moment = parse_time(entry.get("recorded_at"))
        return moment is not None and moment < self.start

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """No filter, or the entry supports one of the principles or maps to one of the controls."""
        if not self.principles and not self.controls:
            return True
        if set(self.principles) & set(entry.get("principles") or ()):
            return True
        controls = entry.get("controls") or {}
        mapped = {c for ids in controls.values() if isinstance(ids, list) for c in ids}
        return bool(set(self.controls) & mapped)


@dataclass
class Selection:
    """Entries whose files the pack holds (seq -> why), and the last line filed in the window."""

    reasons: dict[int, str] = field(default_factory=dict)
    last_in_window: int | None = None

    @property
    def first(self) -> int | None:
        return min(self.reasons) if self.reasons else None


def select(entries: Iterable[tuple[int, Mapping[str, Any]]], window: Window) -> Selection:
    """Pick, from (seq, entry) pairs in ledger order, what the pack for `window` must hold."""
    out = Selection()
    in_force: dict[tuple[str, str], int] = {}
    catalogue_before: int | None = None
    same_as: list[int] = []
    for seq, entry in entries:
        kind = entry.get("type")
        if window.contains(entry):
            out.last_in_window = seq
            if kind == "catalog":
                out.reasons[seq] = CATALOGUE
            elif kind == "run":
                out.reasons[seq] = RUN
            elif kind in ("artefact", "unchanged") and window.matches(entry):
                out.reasons[seq] = IN_WINDOW
                if kind == "unchanged" and isinstance(entry.get("same_as"), int):
                    same_as.append(entry["same_as"])
        elif window.before(entry):
            if kind == "catalog":
                catalogue_before = seq
            elif kind == "artefact" and entry.get("kind") == "snapshot" and window.matches(entry):
                in_force[(str(entry.get("instance")), str(entry.get("name")))] = seq
    for seq in in_force.values():
        out.reasons.setdefault(seq, IN_FORCE)
    if catalogue_before is not None:
        out.reasons.setdefault(catalogue_before, CATALOGUE_IN_FORCE)
    for seq in same_as:
        out.reasons.setdefault(seq, SAME_AS)
    return out


def entry_files(entry: Mapping[str, Any]) -> list[str]:
    """The files a ledger entry records: content paths, then metadata records."""
    files: Sequence[Any] = [*(entry.get("paths") or ()), *(entry.get("meta_paths") or ())]
    return [str(p) for p in files]
