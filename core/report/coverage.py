"""`build_coverage`: what the evidence in a store folder proves, as of a given moment.

Everything is derived from `ledger.jsonl` and the catalogue filed in the store (see `source`), so an
auditor holding only the folder regenerates the same report for the same `now`. Freshness is the
one time-dependent judgement: evidence older than its recorded `stale_after_seconds` no longer shows
that a control operates today, though it still shows that it did then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..catalog import Catalog
from ..collector import Period
from .controls import control_coverage, theme_coverage
from .model import (
    SEVERITY_RANK,
    ArtefactCoverage,
    Coverage,
    FindingRef,
    PrincipleCoverage,
    best_status,
)
from .populations import population_coverage, run_summaries
from .source import catalog_from_document, load_store_catalog, parse_time, read_ledger

__all__ = ["build_coverage", "catalog_from_document"]

Entry = Mapping[str, Any]


def build_coverage(store_root: Path, now: dt.datetime | None = None) -> Coverage:
    """Read the store folder and judge every principle, control, population and theme at `now`."""
    moment = _as_utc(now)
    ledger = read_ledger(store_root)
    catalog, info, catalog_warnings = load_store_catalog(store_root, ledger.entries)
    warnings = [*ledger.warnings, *catalog_warnings]
    artefacts = collect_artefacts(ledger.entries, moment, warnings)
    warnings.extend(_unknown_principles(catalog, artefacts))
    principles = principle_coverage(catalog, artefacts)
    controls = control_coverage(catalog, principles)
    return Coverage(
        store=store_root,
        generated_at=moment,
        catalog=info,
        ledger=ledger.summary(),
        artefacts=artefacts,
        principles=principles,
        controls=controls,
        populations=population_coverage(ledger.entries, artefacts),
        runs=run_summaries(ledger.entries),
        themes=theme_coverage(catalog, principles, controls),
        warnings=tuple(warnings),
    )


def _as_utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise ValueError("naive datetime: `now` must be timezone-aware")
    return now.astimezone(dt.timezone.utc)


# -- artefacts ------------------------------------------------------------------------------------


def collect_artefacts(
    entries: Sequence[Entry], now: dt.datetime, warnings: list[str]
) -> tuple[ArtefactCoverage, ...]:
    """One `ArtefactCoverage` per `artefact` entry, with its `unchanged` re-observations applied."""
    filed: dict[int, Entry] = {}
    seen_again: dict[int, list[Entry]] = defaultdict(list)
    latest: dict[tuple[str, str], int] = {}
    superseded: dict[int, int] = {}
    for entry in entries:
        kind, seq = entry.get("type"), int(entry.get("seq", 0))
        if kind == "artefact":
            key = (str(entry.get("instance", "")), str(entry.get("name", "")))
            previous = latest.get(key)
            if previous is not None and _is_snapshot(filed[previous]) and _is_snapshot(entry):
                superseded[previous] = seq
            filed[seq], latest[key] = entry, seq
        elif kind == "unchanged":
            target = entry.get("same_as")
            if isinstance(target, int) and target in filed:
                seen_again[target].append(entry)
            else:
                warnings.append(f"ledger entry {seq} is 'unchanged' but names no earlier artefact")
    out = []
    for seq in sorted(filed):
        artefact = _artefact(filed[seq], seen_again[seq], superseded.get(seq), now)
        if artefact is None:
            warnings.append(f"ledger entry {seq} has no readable collected_at; left out")
        else:
            out.append(artefact)
    return tuple(out)


def _is_snapshot(entry: Entry) -> bool:
    """A newer snapshot of the same name replaces the old as "current"; events never do."""
    return entry.get("kind") != "events"


def _observed_at(entry: Entry) -> dt.datetime | None:
    """When the source was read: `collected_at`; `recorded_at` (filing time) only as fallback."""
    return parse_time(entry.get("collected_at")) or parse_time(entry.get("recorded_at"))


def _artefact(
    entry: Entry, later: list[Entry], superseded_by: int | None, now: dt.datetime
) -> ArtefactCoverage | None:
    collected = _observed_at(entry)
    if collected is None:
        return None
    last, observed = entry, collected
    for again in later:
        moment = _observed_at(again)
        if moment is not None and moment >= observed:
            last, observed = again, moment
    stale_after = int(last.get("stale_after_seconds", entry.get("stale_after_seconds", 0)))
    fresh = stale_after > 0 and (now - observed).total_seconds() <= stale_after  # 0: never fresh (a sample)
    period = entry.get("period") or {}
    start, end = parse_time(period.get("start")), parse_time(period.get("end"))
    return ArtefactCoverage(
        seq=int(entry.get("seq", 0)),
        name=str(entry.get("name", "")),
        instance=str(entry.get("instance", "")),
        collector=str(entry.get("collector", "")),
        kind=str(entry.get("kind", "")),
        run=str(entry.get("run", "")),
        sha256=str(entry.get("sha256", "")),
        size=entry.get("size"),
        media_type=entry.get("media_type"),
        paths=tuple(str(p) for p in entry.get("paths", ())),
        meta_path=entry.get("meta_path"),
        principles=tuple(str(p) for p in entry.get("principles", ())),
        controls={fw: tuple(ids) for fw, ids in sorted(dict(entry.get("controls", {})).items())},
        findings=tuple(dict(f) for f in last.get("findings", ())),
        collected_at=collected,
        recorded_at=str(entry.get("recorded_at", "")),
        last_observed_at=observed,
        observations=1 + len(later),
        stale_after_seconds=stale_after,
        status="fresh" if fresh else "stale",
        period=Period(start, end) if start and end else None,
        instant=parse_time(entry.get("instant")),
        superseded_by=superseded_by,
    )


def _unknown_principles(catalog: Catalog, artefacts: Iterable[ArtefactCoverage]) -> list[str]:
    """Evidence filed under principles the current catalogue lacks would silently vanish."""
    unknown = sorted({p for a in artefacts for p in a.principles if p not in catalog.principles})
    return [f"artefacts are filed under {p}, which the catalogue does not define" for p in unknown]


# -- principles -----------------------------------------------------------------------------------


def principle_coverage(
    catalog: Catalog, artefacts: Sequence[ArtefactCoverage]
) -> tuple[PrincipleCoverage, ...]:
    """Each catalogue principle with its artefacts (oldest first), status and current findings."""
    by_principle: dict[str, list[ArtefactCoverage]] = defaultdict(list)
    for artefact in artefacts:
        for pid in artefact.principles:
            by_principle[pid].append(artefact)
    out = []
    for p in sorted(catalog.principles.values(), key=lambda p: p.number):
        mine = tuple(sorted(by_principle[p.id], key=lambda a: (a.collected_at, a.seq)))
        out.append(
            PrincipleCoverage(
                id=p.id,
                number=p.number,
                clause=p.clause,
                title=p.title,
                folder=p.folder,
                status=best_status(a.status for a in mine),
                artefacts=mine,
                findings=_findings(p.id, mine),
                notes=tuple(p.notes),
            )
        )
    return tuple(out)


def _findings(pid: str, artefacts: Iterable[ArtefactCoverage]) -> tuple[FindingRef, ...]:
    """Findings of the current evidence: a superseded snapshot's findings describe the past."""
    refs = [
        FindingRef(
            code=str(f.get("code", "")),
            severity=str(f.get("severity", "medium")),
            message=str(f.get("message", "")),
            subject=f.get("subject"),
            path=a.path_for(pid),
            instance=a.instance,
            collector=a.collector,
            collected_at=a.collected_at,
        )
        for a in artefacts
        if a.superseded_by is None
        for f in a.findings
    ]
    refs.sort(key=lambda r: (SEVERITY_RANK.get(r.severity, 9), r.code, r.path, r.message))
    return tuple(refs)
