"""`render(coverage, fmt)`: the coverage as text (terminal), Markdown (auditors) or JSON (tools).

JSON is the complete, machine-readable form; text and Markdown are views of it for people. Every
form is a pure function of the `Coverage`, with sorted keys and ordered lists, so the same store and
`now` always render byte-identically and two reports can be diffed.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from ..collector import Period, utc_iso
from .markdown import render_markdown
from .model import (
    STATUSES,
    ArtefactCoverage,
    ControlCoverage,
    Coverage,
    FindingRef,
    Population,
    PrincipleCoverage,
    RunSummary,
    ThemeCoverage,
)
from .text import render_text

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")
REPORT_VERSION = 1


def render(coverage: Coverage, fmt: str) -> str:
    """Render in one of `FORMATS`; an unknown format is a caller error, not an empty report."""
    if fmt == "json":
        return json.dumps(coverage_to_dict(coverage), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(coverage)
    if fmt == "text":
        return render_text(coverage)
    raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")


def coverage_to_dict(coverage: Coverage) -> dict[str, Any]:
    """The JSON document: everything the other formats show, and the detail they leave out."""
    frameworks = list(coverage.controls)
    return {
        "evidentia_report": REPORT_VERSION,
        "generated_at": utc_iso(coverage.generated_at),
        "store": str(coverage.store),
        "catalog": {
            "version": coverage.catalog.version,
            "sha256": coverage.catalog.sha256,
            "source": coverage.catalog.source,
            "frameworks": dict(coverage.catalog.frameworks),
        },
        "ledger": {"entries": coverage.ledger.entries, "head": coverage.ledger.head},
        "summary": _summary(coverage),
        "artefacts": [_artefact(a, frameworks) for a in coverage.artefacts],
        "principles": [_principle(p) for p in coverage.principles],
        "controls": {fw: [_control(c) for c in cs] for fw, cs in coverage.controls.items()},
        "populations": [_population(p) for p in coverage.populations],
        "runs": [_run(r) for r in coverage.runs],
        "themes": [_theme(t) for t in coverage.themes],
        "warnings": list(coverage.warnings),
    }


def _counts(statuses: list[str]) -> dict[str, int]:
    return {s: statuses.count(s) for s in STATUSES}


def _summary(coverage: Coverage) -> dict[str, Any]:
    severities: dict[str, int] = {}
    for p in coverage.principles:
        for f in p.findings:
            severities[f.severity] = severities.get(f.severity, 0) + 1
    return {
        "principles": _counts([p.status for p in coverage.principles]),
        "controls": {fw: _counts([c.status for c in cs]) for fw, cs in coverage.controls.items()},
        "findings": severities,
        "gaps": [p.id for p in coverage.gaps()],
    }


def _period(period: Period | None) -> dict[str, str] | None:
    return period.to_dict() if period is not None else None


def _artefact(a: ArtefactCoverage, frameworks: list[str]) -> dict[str, Any]:
    # every framework is present, even one added to the catalogue after this artefact was filed
    controls: dict[str, list[str]] = {fw: [] for fw in frameworks}
    controls.update({fw: list(ids) for fw, ids in a.controls.items()})
    return {
        "seq": a.seq,
        "path": a.path,
        "paths": list(a.paths),
        "meta_path": a.meta_path,
        "name": a.name,
        "sha256": a.sha256,
        "size": a.size,
        "media_type": a.media_type,
        "instance": a.instance,
        "collector": a.collector,
        "kind": a.kind,
        "run": a.run,
        "collected_at": utc_iso(a.collected_at),
        "recorded_at": a.recorded_at,
        "last_observed_at": utc_iso(a.last_observed_at),
        "observations": a.observations,
        "stale_after_seconds": a.stale_after_seconds,
        "status": a.status,
        "period": _period(a.period),
        "instant": utc_iso(a.instant) if a.instant else None,
        "superseded_by": a.superseded_by,
        "principles": list(a.principles),
        "controls": controls,
        "findings": [dict(f) for f in a.findings],
    }


def _finding(f: FindingRef) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity,
        "message": f.message,
        "subject": f.subject,
        "path": f.path,
        "instance": f.instance,
        "collector": f.collector,
        "collected_at": utc_iso(f.collected_at),
    }


def _principle(p: PrincipleCoverage) -> dict[str, Any]:
    return {
        "id": p.id,
        "number": p.number,
        "clause": p.clause,
        "title": p.title,
        "folder": p.folder,
        "status": p.status,
        "fresh": p.fresh,
        "stale": p.stale,
        "artefacts": p.paths(),
        "findings": [_finding(f) for f in p.findings],
        "notes": list(p.notes),
    }


def _control(c: ControlCoverage) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "status": c.status,
        "evidenced_fit": c.evidenced_fit,
        "principles": [link.principle for link in c.links],
        "mappings": [
            {"principle": link.principle, "fit": link.fit, "status": link.status, "note": link.note}
            for link in c.links
        ],
        "artefacts": list(c.artefacts),
    }


def _population(p: Population) -> dict[str, Any]:
    return {
        "instance": p.instance,
        "collector": p.collector,
        "artefacts": p.artefacts,
        "covered": [c.to_dict() for c in p.covered],
        "holes": [h.to_dict() for h in p.holes],
    }


def _run(r: RunSummary) -> dict[str, Any]:
    return {
        "run": r.run,
        "seq": r.seq,
        "path": r.path,
        "recorded_at": r.recorded_at,
        "instances": [
            {
                "id": i.id,
                "collector": i.collector,
                "status": i.status,
                "period": dict(i.period) if i.period else None,
                "finished_at": i.finished_at,
            }
            for i in r.instances
        ],
    }


def _theme(t: ThemeCoverage) -> dict[str, Any]:
    as_given: dict[str, list[dict[str, Any]]] = {}
    for g in t.as_given:
        as_given.setdefault(g.framework, []).append(
            {"id": g.id, "status": g.status, "correction": g.correction}
        )
    return {
        "id": t.id,
        "title": t.title,
        "status": t.status,
        "principles": [{"id": pid, "status": status} for pid, status in t.principles],
        "as_given": as_given,
        "corrections": [{"id": cid, "why": why} for cid, why in t.corrections],
    }
