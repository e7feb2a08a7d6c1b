"""The portal's views of a coverage: heat map, collector instances, dates, and the ledger head.

Pure functions of a `Coverage` (and the catalogue it was judged with), so the page and its tests
read the same numbers. The coverage already says what each principle and control proves; these
views only regroup it the ways an auditor walks through evidence: by control, by source, by day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...catalog import Catalog
from ...store.ledger import GENESIS
from ..model import ArtefactCoverage, ControlCoverage, Coverage, Status, best_status
from ..source import LedgerRead


@dataclass(frozen=True)
class HeatCell:
    """One principle's mapping to one control: how well it fits and how well it is evidenced."""

    principle: str
    fit: str
    status: Status
    current: int  # artefacts of the principle that no newer snapshot replaced


@dataclass(frozen=True)
class HeatRow:
    framework: str
    control: ControlCoverage
    cells: tuple[HeatCell | None, ...]  # one per principle, in coverage order; None: not mapped


@dataclass(frozen=True)
class InstanceView:
    """Everything filed by one collector instance: auditors check each source in turn."""

    instance: str
    collector: str
    kinds: tuple[str, ...]
    artefacts: int
    current: int
    fresh: int
    stale: int
    status: Status
    latest: dt.datetime | None
    findings: int
    principles: tuple[str, ...]
    last_run: str | None  # the instance's status in the latest run record naming it
    holes: int


@dataclass(frozen=True)
class DayView:
    """What was collected on one UTC day: where evidence was produced, and where runs failed."""

    day: str
    artefacts: int
    fresh: int
    stale: int
    findings: int
    instances: tuple[str, ...]
    runs: tuple[str, ...]
    failed: tuple[str, ...]  # "instance (status)" of that day's runs that did not succeed


@dataclass(frozen=True)
class LedgerHead:
    """Which ledger state the page describes: its last line's SHA-256 and sequence number.

    `first_seq` is not always 1: an exported pack holds a segment of the ledger.
    """

    sha256: str
    seq: int | None
    first_seq: int | None
    lines: int


def current(artefacts: Sequence[ArtefactCoverage]) -> list[ArtefactCoverage]:
    """Artefacts still describing today: a newer snapshot of the same name supersedes the old."""
    return [a for a in artefacts if a.superseded_by is None]


def heatmap(coverage: Coverage) -> tuple[HeatRow, ...]:
    """Controls (rows) against principles (columns), each mapped cell judged by its principle."""
    counts = {p.id: len(current(p.artefacts)) for p in coverage.principles}
    rows = []
    for fw, controls in coverage.controls.items():
        for control in controls:
            links = {link.principle: link for link in control.links}
            cells = tuple(
                HeatCell(p.id, links[p.id].fit, links[p.id].status, counts[p.id]) if p.id in links else None
                for p in coverage.principles
            )
            rows.append(HeatRow(fw, control, cells))
    return tuple(rows)


def instances(coverage: Coverage) -> tuple[InstanceView, ...]:
    by_instance: dict[str, list[ArtefactCoverage]] = defaultdict(list)
    for a in coverage.artefacts:
        by_instance[a.instance].append(a)
    last_run: dict[str, str] = {}
    for run in coverage.runs:  # ledger order: later runs overwrite
        for inst in run.instances:
            last_run[inst.id] = inst.status
    holes = {p.instance: len(p.holes) for p in coverage.populations}
    out = []
    for name in sorted(set(by_instance) | set(last_run)):
        filed = by_instance.get(name, [])
        now = current(filed)
        out.append(
            InstanceView(
                instance=name,
                collector=filed[0].collector if filed else _run_collector(coverage, name),
                kinds=tuple(sorted({a.kind for a in filed})),
                artefacts=len(filed),
                current=len(now),
                fresh=sum(1 for a in now if a.status == "fresh"),
                stale=sum(1 for a in now if a.status == "stale"),
                status=best_status(a.status for a in now),
                latest=max((a.last_observed_at for a in filed), default=None),
                findings=sum(len(a.findings) for a in now),
                principles=tuple(sorted({p for a in filed for p in a.principles}, key=_pnum)),
                last_run=last_run.get(name),
                holes=holes.get(name, 0),
            )
        )
    return tuple(out)


def _run_collector(coverage: Coverage, instance: str) -> str:
    for run in coverage.runs:
        for inst in run.instances:
            if inst.id == instance:
                return inst.collector
    return ""


def _pnum(pid: str) -> tuple[int, str]:
    return (int(pid[1:]), pid) if pid[1:].isdigit() else (10**6, pid)


def days(coverage: Coverage) -> tuple[DayView, ...]:
    """Newest day first: an auditor asks "what happened lately" before "what happened in March"."""
    by_day: dict[str, list[ArtefactCoverage]] = defaultdict(list)
    for a in coverage.artefacts:
        by_day[a.collected_at.date().isoformat()].append(a)
    runs: dict[str, list[str]] = defaultdict(list)
    failed: dict[str, list[str]] = defaultdict(list)
    for run in coverage.runs:
        day = run.recorded_at[:10]
        runs[day].append(run.run)
        failed[day].extend(f"{i.id} ({i.status})" for i in run.instances if i.status != "ok")
    out = []
    for day in sorted(set(by_day) | set(runs), reverse=True):
        filed = by_day.get(day, [])
        out.append(
            DayView(
                day=day,
                artefacts=len(filed),
                fresh=sum(1 for a in filed if a.status == "fresh"),
                stale=sum(1 for a in filed if a.status == "stale"),
                findings=sum(len(a.findings) for a in filed),
                instances=tuple(sorted({a.instance for a in filed})),
                runs=tuple(runs.get(day, ())),
                failed=tuple(failed.get(day, ())),
            )
        )
    return tuple(out)


def ledger_head(ledger: LedgerRead) -> LedgerHead:
    seqs = [int(e["seq"]) for e in ledger.entries if isinstance(e.get("seq"), int)]
    return LedgerHead(
        sha256=ledger.head if ledger.lines else GENESIS,
        seq=seqs[-1] if seqs else None,
        first_seq=seqs[0] if seqs else None,
        lines=ledger.lines,
    )


def principle_details(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """Phase and provisions per principle: the coverage keeps neither, the filed catalogue does."""
    return {
        pid: {"phase": p.phase, "provisions": [dict(x) for x in p.provisions]}
        for pid, p in catalog.principles.items()
    }
