"""Event populations and run records: which periods each `events` instance covers, and the holes.

Auditors sample from the whole audit period, so a stretch that no successful run covered must be
visible as a hole, never merged away.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from ..collector import Period
from .model import ArtefactCoverage, Population, RunInstance, RunSummary
from .source import parse_time

Entry = Mapping[str, Any]


def merge_periods(periods: Iterable[Period]) -> list[Period]:
    """Union of [start, end) periods; touching or overlapping ones become one.

    Consecutive runs cover [last end, now), so the end of one equals the start of the next:
    contiguous evidence must read as one covered stretch, not as many.
    """
    merged: list[Period] = []
    for period in sorted(periods, key=lambda p: (p.start, p.end)):
        if period.end <= period.start:
            continue  # an empty period covers nothing
        if merged and period.start <= merged[-1].end:
            if period.end > merged[-1].end:
                merged[-1] = Period(merged[-1].start, period.end)
        else:
            merged.append(period)
    return merged


def holes_between(merged: list[Period]) -> list[Period]:
    """The uncovered stretches between merged periods: where no population was collected."""
    return [Period(a.end, b.start) for a, b in pairwise(merged)]


def population_coverage(
    entries: Sequence[Entry], artefacts: Sequence[ArtefactCoverage]
) -> tuple[Population, ...]:
    """Covered periods and holes per `events` instance.

    A run that read an events instance successfully covers its period even if it found no
    events and so filed no artefact; failed runs cover nothing, which is what makes holes visible.
    """
    periods: dict[str, list[Period]] = defaultdict(list)
    collectors: dict[str, str] = {}
    counts: dict[str, int] = defaultdict(int)
    for a in artefacts:
        if a.kind == "events" and a.period is not None:
            periods[a.instance].append(a.period)
            collectors.setdefault(a.instance, a.collector)
            counts[a.instance] += 1
    for run in run_summaries(entries):
        for inst in run.instances:
            period = _period(inst.period)
            if inst.id in periods and inst.status == "ok" and period is not None:
                periods[inst.id].append(period)
    out = []
    for instance in sorted(periods):
        merged = merge_periods(periods[instance])
        out.append(
            Population(
                instance=instance,
                collector=collectors[instance],
                covered=tuple(merged),
                holes=tuple(holes_between(merged)),
                artefacts=counts[instance],
            )
        )
    return tuple(out)


def _period(raw: Mapping[str, Any] | None) -> Period | None:
    if not raw:
        return None
    start, end = parse_time(raw.get("start")), parse_time(raw.get("end"))
    return Period(start, end) if start and end else None


def run_summaries(entries: Sequence[Entry]) -> tuple[RunSummary, ...]:
    """The `run` records in ledger order: which instances ran, and which failed."""
    return tuple(
        RunSummary(
            run=str(e.get("run", "")),
            seq=int(e.get("seq", 0)),
            path=str((e.get("paths") or [""])[0]),
            recorded_at=str(e.get("recorded_at", "")),
            instances=tuple(
                RunInstance(
                    id=str(i.get("id", "")),
                    collector=str(i.get("collector", "")),
                    status=str(i.get("status", "")),
                    period=i.get("period"),
                    finished_at=i.get("finished_at"),
                )
                for i in e.get("instances", [])
            ),
        )
        for e in entries
        if e.get("type") == "run"
    )
