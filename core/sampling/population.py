"""The population: every item of one events instance in the window, read from the store alone.

An auditor must be able to show the population was complete, so it is read only from the
instance's filed `events` artefacts, each checked against its ledger SHA-256, and carries the
artefacts it came from and any hole in the window's coverage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..collector import Period, utc_iso
from .errors import SamplingError
from .items import extract_items
from .window import clip, gaps, span, span_list

if TYPE_CHECKING:
    from ..report.model import ArtefactCoverage


@dataclass(frozen=True)
class Item:
    """One record of the population: what the auditor asks the auditee to show evidence for."""

    id: str
    at: dt.datetime | None
    artefact: int  # the ledger seq of the artefact it was read from

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": utc_iso(self.at) if self.at else None, "artefact": self.artefact}


@dataclass(frozen=True)
class SourceArtefact:
    """An events artefact the population was read from, so completeness can be checked."""

    seq: int
    sha256: str
    path: str
    period: Period
    items: int
    in_window: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "sha256": self.sha256,
            "path": self.path,
            "period": self.period.to_dict(),
            "items": self.items,
            "items_in_window": self.in_window,
        }


@dataclass(frozen=True)
class Population:
    instance: str
    collector: str
    window: Period
    principles: tuple[str, ...]
    items: tuple[Item, ...]
    artefacts: tuple[SourceArtefact, ...]
    covered: tuple[Period, ...]
    holes: tuple[Period, ...]
    duplicates: tuple[str, ...]
    unplaced: int  # items with no time of their own, in an artefact only partly inside the window


def read_population(root: Path, instance: str, window: Period) -> Population:
    """Every item of `instance` in `window`, from the store's events artefacts (hashes checked)."""
    from ..report.coverage import collect_artefacts
    from ..report.populations import merge_periods, population_coverage
    from ..report.source import read_ledger

    entries = read_ledger(root).entries
    mine = [e for e in entries if e.get("type") == "artefact" and e.get("instance") == instance]
    _check_instance(entries, mine, instance)
    artefacts = collect_artefacts(entries, window.end, [])
    events = [a for a in artefacts if a.instance == instance and a.kind == "events" and a.period is not None]
    overlapping = [
        a for a in events if a.period and a.period.start < window.end and window.start < a.period.end
    ]
    if not overlapping:
        raise SamplingError(
            f"instance {instance!r} has no evidence in the window {span(window)}",
            hint=f"its events cover {span_list(merge_periods(a.period for a in events if a.period))}",
        )
    items, duplicates, sources, unplaced = _read_items(root, instance, overlapping, window)
    [pop] = [p for p in population_coverage(entries, artefacts) if p.instance == instance]
    covered = clip(pop.covered, window)
    principles = sorted({p for a in overlapping for p in a.principles}, key=_principle_order)
    return Population(
        instance=instance,
        collector=overlapping[0].collector,
        window=window,
        principles=tuple(principles),
        items=tuple(sorted(items, key=lambda i: (i.at or window.start, i.id))),
        artefacts=tuple(sources),
        covered=tuple(covered),
        holes=tuple(gaps(covered, window)),
        duplicates=tuple(sorted(set(duplicates))),
        unplaced=unplaced,
    )


def _read_items(
    root: Path, instance: str, artefacts: Sequence[ArtefactCoverage], window: Period
) -> tuple[list[Item], list[str], list[SourceArtefact], int]:
    """(items in the window, ids seen again, the artefacts read, items that could not be placed).

    An item's own time decides; one without a time counts only if its artefact lies wholly in the
    window, since it may have happened in the part outside. An id seen twice (overlapping
    collections) is one occurrence of the control, so it counts once.
    """
    items: dict[str, Item] = {}
    duplicates, sources, unplaced = [], [], 0
    for a in artefacts:
        assert a.period is not None
        read = extract_items(_load(root, a.path, a.sha256), f"{instance}: {a.path}")
        inside = a.period.start >= window.start and a.period.end <= window.end
        kept = 0
        for ident, at in read:
            if at is None and not inside:
                unplaced += 1
                continue
            if at is not None and not window.contains(at):
                continue
            kept += 1
            if ident in items:
                duplicates.append(ident)
            else:
                items[ident] = Item(ident, at, a.seq)
        sources.append(SourceArtefact(a.seq, a.sha256, a.path, a.period, len(read), kept))
    return list(items.values()), duplicates, sources, unplaced


def _check_instance(
    entries: Sequence[Mapping[str, Any]], mine: Sequence[Mapping[str, Any]], instance: str
) -> None:
    if not mine:
        known = sorted({str(e.get("instance")) for e in entries if e.get("type") == "artefact"})
        raise SamplingError(
            f"unknown instance {instance!r}: the store has no evidence from it",
            hint=f"instances with evidence: {', '.join(known) or 'none'}",
        )
    if not any(e.get("kind") == "events" for e in mine):
        collector = mine[-1].get("collector", "?")
        raise SamplingError(
            f"instance {instance!r} ({collector}) files snapshots, not an event population",
            hint="samples are drawn from event collectors' populations (changes, tickets, incidents)",
        )


def _load(root: Path, rel: str, sha256: str) -> Any:
    """The artefact's JSON, refused if its bytes no longer match the ledger (tampered or damaged)."""
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        raise SamplingError(f"{rel} cannot be read: {exc.strerror}", hint="run `evidentia verify`") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise SamplingError(f"{rel} does not match its ledger SHA-256", hint="run `evidentia verify`")
    try:
        return json.loads(data)
    except ValueError:
        raise SamplingError(f"{rel} is not JSON: cannot read a population from it") from None


def _principle_order(pid: str) -> tuple[int, str]:
    digits = pid.lstrip("P")
    return (int(digits), pid) if digits.isdigit() else (1 << 30, pid)
