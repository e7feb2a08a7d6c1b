"""The terminal view: a principle table, then the gaps, findings and holes that need attention.

Built for someone running `evidentia report` after a collection: what is missing or stale comes
first and is named; the full detail (every artefact, every control) is in the Markdown and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..collector import utc_iso
from .model import STATUSES, Coverage, PrincipleCoverage, Status

WIDTH = 100


def render_text(coverage: Coverage) -> str:
    sections = [
        _header(coverage),
        _principle_table(coverage.principles),
        _gaps(coverage.principles),
        _findings(coverage.principles),
        _controls(coverage),
        _populations(coverage),
        _runs(coverage),
        _warnings(coverage.warnings),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _count_line(statuses: Iterable[Status]) -> str:
    listed = list(statuses)
    return ", ".join(f"{listed.count(s)} {s}" for s in STATUSES)


def _header(c: Coverage) -> str:
    rows = [
        ("store", str(c.store)),
        ("generated", utc_iso(c.generated_at)),
        ("catalogue", f"{c.catalog.version} ({c.catalog.source})"),
        ("ledger", f"{c.ledger.entries} entries, head {c.ledger.head}"),
        ("artefacts", str(len(c.artefacts))),
        ("principles", _count_line(p.status for p in c.principles)),
    ]
    return "Evidentia evidence coverage\n" + "\n".join(f"  {k:<11}{v}" for k, v in rows)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _principle_table(principles: Iterable[PrincipleCoverage]) -> str:
    lines = [
        "Principles",
        f"  {'ID':<4} {'STATUS':<8} {'FRESH':>5} {'STALE':>5} {'FINDINGS':>8}  TITLE",
    ]
    for p in principles:
        lines.append(
            f"  {p.id:<4} {p.status:<8} {p.fresh:>5} {p.stale:>5} {len(p.findings):>8}  "
            + _clip(p.title, WIDTH - 38)
        )
    return "\n".join(lines)


def _gaps(principles: Iterable[PrincipleCoverage]) -> str:
    listed = list(principles)
    missing = [p for p in listed if p.status == "missing"]
    stale = [p for p in listed if p.status == "stale"]
    lines = []
    if missing:
        lines.append("Gaps: no evidence for")
        lines.extend(f"  {p.id:<4} {p.title}" for p in missing)
    if stale:
        lines.append("Stale: evidence older than its freshness window for")
        for p in stale:
            newest = max(a.last_observed_at for a in p.artefacts)
            lines.append(f"  {p.id:<4} {p.title} (last observed {utc_iso(newest)})")
    return "\n".join(lines)


def _findings(principles: Iterable[PrincipleCoverage]) -> str:
    lines = []
    for p in principles:
        if not p.findings:
            continue
        lines.append(f"  {p.id} {p.title}")
        for f in p.findings:
            subject = f" [{f.subject}]" if f.subject else ""
            lines.append(f"    {f.severity:<8} {f.code}: {f.message}{subject}")
            lines.append(f"             in {f.path}")
    return "Findings\n" + "\n".join(lines) if lines else ""


def _controls(c: Coverage) -> str:
    lines = ["Controls"]
    for fw, controls in c.controls.items():
        title = c.catalog.frameworks.get(fw, fw)
        counts = _count_line(x.status for x in controls)
        lines.append(f"  {fw:<10} {counts} of {len(controls)}  ({title})")
    return "\n".join(lines)


def _populations(c: Coverage) -> str:
    if not c.populations:
        return ""
    lines = ["Populations (event evidence)"]
    for pop in c.populations:
        span = f"{utc_iso(pop.covered[0].start)} to {utc_iso(pop.covered[-1].end)}"
        holes = f"{len(pop.holes)} hole(s)" if pop.holes else "no holes"
        lines.append(f"  {pop.instance} ({pop.collector}): {span}, {holes}")
        lines.extend(f"    hole {utc_iso(h.start)} to {utc_iso(h.end)}" for h in pop.holes)
    return "\n".join(lines)


def _runs(c: Coverage) -> str:
    if not c.runs:
        return "Runs: none recorded"
    last = c.runs[-1]
    not_ok = [f"{i.id} ({i.status})" for i in last.instances if i.status != "ok"]
    statuses = sorted({i.status for i in last.instances})
    counts = ", ".join(f"{last.count(s)} {s}" for s in statuses) or "no instances"
    line = f"Runs: {len(c.runs)} recorded; latest {last.run} ({last.recorded_at}): {counts}"
    return line + (f"\n  not ok: {', '.join(not_ok)}" if not_ok else "")


def _warnings(warnings: Iterable[str]) -> str:
    listed = list(warnings)
    return "Warnings\n" + "\n".join(f"  {w}" for w in listed) if listed else ""
