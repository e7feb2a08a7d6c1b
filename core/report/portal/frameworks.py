"""The portal's framework views: EN 304 223 principles, each mapped framework's controls, heat map.

An auditor arrives with a control list (ISO 27001 Annex A, SOC 2 criteria) or with the principles,
and walks principle -> control -> artefact. Each principle and control shows its freshness and the
findings of its current evidence; long evidence lists are cut to the newest few with a link to the
filtered artefact table, so a store of thousands of artefacts still makes a page that opens fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import SEVERITY_RANK, ArtefactCoverage, ControlCoverage, Coverage, FindingRef, PrincipleCoverage
from .markup import (
    Links,
    badge,
    control_anchor,
    esc,
    framework_anchor,
    phase_label,
    principle_anchor,
    short_framework,
    table,
    when,
)
from .views import HeatRow, current

EVIDENCE_PER_PRINCIPLE = 25
EVIDENCE_PER_CONTROL = 5
FINDINGS_PER_PRINCIPLE = 50
FINDINGS_PER_CONTROL = 5
FIT_MARK = {"primary": "●", "supporting": "◐", "weak": "○"}


def filter_link(key: str, value: str, label: str) -> str:
    """A link to the artefact table; with the script it also sets the filter `key` to `value`."""
    return f'<a href="#artefacts" data-filter="{esc(key)}" data-value="{esc(value)}">{esc(label)}</a>'


def principles_view(coverage: Coverage, details: Mapping[str, Mapping[str, Any]], links: Links) -> str:
    rows = []
    for p in coverage.principles:
        phase = phase_label(str(details.get(p.id, {}).get("phase", "")))
        rows.append(
            f'<tr data-row><th scope="row"><a href="#{principle_anchor(p.id)}">{esc(p.id)}</a></th>'
            f"<td>{esc(p.title)}</td><td>{esc(phase)}</td><td>{badge(p.status)}</td>"
            f'<td class="num">{p.fresh}</td><td class="num">{p.stale}</td>'
            f'<td class="num">{finding_count(p.findings)}</td></tr>'
        )
    summary = table(
        "Principles: freshness of their evidence and the findings it carries",
        ("Principle", "Title", "Phase", "Status", "Fresh", "Stale", "Findings (worst)"),
        rows,
    )
    controls_by_principle = _controls_by_principle(coverage)
    articles = "\n".join(
        _principle(p, details.get(p.id, {}), controls_by_principle.get(p.id, []), links)
        for p in coverage.principles
    )
    return (
        '<section class="view" id="principles" aria-labelledby="principles-h">'
        '<h2 id="principles-h">By EN 304 223 principle</h2>'
        + _view_filter("principles", "Filter principles")
        + summary
        + articles
        + "</section>"
    )


def _view_filter(scope: str, label: str) -> str:
    return (
        f'<p class="viewfilter"><label for="{scope}-filter">{esc(label)}</label> '
        f'<input type="search" id="{scope}-filter" data-filter-rows="{scope}" autocomplete="off"></p>'
    )


def _controls_by_principle(coverage: Coverage) -> dict[str, list[tuple[ControlCoverage, str]]]:
    out: dict[str, list[tuple[ControlCoverage, str]]] = {}
    for controls in coverage.controls.values():
        for c in controls:
            for link in c.links:
                out.setdefault(link.principle, []).append((c, link.fit))
    return out


def _principle(
    p: PrincipleCoverage,
    detail: Mapping[str, Any],
    controls: Sequence[tuple[ControlCoverage, str]],
    links: Links,
) -> str:
    provisions = list(detail.get("provisions", []))
    phase = phase_label(str(detail.get("phase", "")))
    parts = [
        f'<article class="principle" id="{principle_anchor(p.id)}" data-row>',
        f'<h3><span class="pid">{esc(p.id)}</span> {esc(p.title)} {badge(p.status)}</h3>',
        f'<p class="facts">Clause {esc(p.clause)} · {esc(phase)} · {p.fresh} fresh and {p.stale} stale '
        f"artefacts · {len(p.findings)} finding(s) · folder <code>{esc(p.folder)}</code></p>",
    ]
    if provisions:
        rows = (
            f'<tr><th scope="row">{esc(x.get("id", ""))}</th><td>{esc(x.get("norm", ""))}</td>'
            f"<td>{esc(x.get('summary', ''))}</td></tr>"
            for x in provisions
        )
        parts.append(
            f"<details><summary>Provisions ({len(provisions)})</summary>"
            + table(f"Provisions of {p.id} (paraphrased)", ("Provision", "Norm", "Summary"), rows)
            + "</details>"
        )
    if controls:
        rows = (
            f"<tr><td>{esc(short_framework(c.framework))}</td>"
            f'<th scope="row"><a href="#{control_anchor(c.framework, c.id)}">{esc(c.id)}</a></th>'
            f"<td>{esc(c.title)}</td><td>{esc(fit)}</td><td>{badge(c.status)}</td></tr>"
            for c, fit in controls
        )
        parts.append(
            "<h4>Mapped controls</h4>"
            + table(
                f"Controls {p.id} maps to, with the fit of each mapping",
                ("Framework", "Control", "Title", "Fit", "Control status"),
                rows,
            )
        )
    parts.append(
        _findings(f"Findings in the current evidence of {p.id}", p.findings, links, FINDINGS_PER_PRINCIPLE)
    )
    parts.append(
        _evidence(
            f"Newest current evidence of {p.id}",
            current(p.artefacts),
            EVIDENCE_PER_PRINCIPLE,
            links,
            p.id,
        )
    )
    parts.append(
        '<p class="more">'
        + filter_link("principle", p.id, f"All {len(p.artefacts)} artefacts filed under {p.id}")
        + "</p>"
    )
    if p.notes:
        parts.append("<ul class='notes'>" + "".join(f"<li>{esc(n)}</li>" for n in p.notes) + "</ul>")
    parts.append("</article>")
    return "\n".join(parts)


def _findings(caption: str, findings: Sequence[FindingRef], links: Links, limit: int) -> str:
    """The most severe findings first; the rest stay one click away in the artefact table."""
    if not findings:
        return '<h4>Findings</h4><p class="none">No findings.</p>'
    rows = [
        f"<tr><td>{badge_severity(f.severity)}</td><td><code>{esc(f.code)}</code></td><td>{esc(f.message)}</td>"
        f"<td>{esc(f.subject or '')}</td><td>{esc(f.instance)}</td>"
        f"<td>{links.file(f.path, f.path.rsplit('/', 1)[-1])}</td></tr>"
        for f in findings[:limit]
    ]
    more = len(findings) - limit
    note = f'<p class="more">{more} more finding(s): see the artefact table.</p>' if more > 0 else ""
    return (
        "<h4>Findings</h4>"
        + table(
            caption + _shown(limit, len(findings)),
            ("Severity", "Code", "Message", "Subject", "Instance", "Evidence"),
            rows,
        )
        + note
    )


def _shown(limit: int, total: int) -> str:
    return f" (the first {limit} of {total})" if total > limit else ""


def finding_count(findings: Sequence[FindingRef]) -> str:
    """The count and, beside it, the worst severity among them: 40 "info" and one "high" differ."""
    if not findings:
        return "0"
    worst = min((f.severity for f in findings), key=lambda s: SEVERITY_RANK.get(s, 9))
    return f"{len(findings)} {badge_severity(worst)}"


def badge_severity(severity: str) -> str:
    return f'<span class="sev {esc(severity)}">{esc(severity)}</span>'


def _evidence(
    caption: str, artefacts: Sequence[ArtefactCoverage], limit: int, links: Links, pid: str | None
) -> str:
    if not artefacts:
        return "<h4>Evidence</h4><p class='none'>No evidence filed.</p>"
    newest = sorted(artefacts, key=lambda a: (a.last_observed_at, a.seq), reverse=True)[:limit]
    rows = (
        f"<tr><td>{links.artefact(a, a.path_for(pid) if pid else None)}</td><td>{esc(a.instance)}</td>"
        f"<td>{when(a.last_observed_at)}</td><td>{badge(a.status)}</td>"
        f'<td class="num">{len(a.findings)}</td></tr>'
        for a in newest
    )
    return "<h4>Evidence</h4>" + table(
        caption + _shown(limit, len(artefacts)),
        ("Artefact and metadata", "Instance", "Last observed", "Status", "Findings"),
        rows,
    )


def framework_view(coverage: Coverage, framework: str, links: Links) -> str:
    controls = coverage.controls[framework]
    title = coverage.catalog.frameworks.get(framework, framework)
    by_path = {a.path: a for a in coverage.artefacts}
    findings = {p.id: p.findings for p in coverage.principles}
    rows = []
    for c in controls:
        principles = ", ".join(
            f'<a href="#{principle_anchor(link.principle)}">{esc(link.principle)}</a> '
            f'<span class="fit">({esc(link.fit)})</span>'
            for link in c.links
        )
        count = finding_count(control_findings(c, findings))
        rows.append(
            f'<tr data-row><th scope="row"><a href="#{control_anchor(framework, c.id)}">{esc(c.id)}</a></th>'
            f"<td>{esc(c.title)}</td><td>{badge(c.status)}</td><td>{esc(c.evidenced_fit or '—')}</td>"
            f'<td>{principles}</td><td class="num">{len(c.artefacts)}</td><td class="num">{count}</td></tr>'
        )
    anchor = framework_anchor(framework)
    summary = table(
        f"{title}: each mapped control, judged by the best-evidenced principle mapping to it",
        ("Control", "Title", "Status", "Evidenced fit", "Principles (fit)", "Artefacts", "Findings (worst)"),
        rows,
    )
    details = "\n".join(_control(c, by_path, findings, links) for c in controls)
    return (
        f'<section class="view" id="{anchor}" aria-labelledby="{anchor}-h">'
        f'<h2 id="{anchor}-h">By {esc(short_framework(framework))} control</h2>'
        f'<p class="lead">{esc(title)}. A control is evidenced by any principle mapping to it; '
        "a weak fit means thin support.</p>"
        + _view_filter(anchor, f"Filter {short_framework(framework)} controls")
        + summary
        + details
        + "</section>"
    )


def control_findings(c: ControlCoverage, findings: Mapping[str, Sequence[FindingRef]]) -> list[FindingRef]:
    """The findings of the principles mapping to a control, most severe first, each once: an
    artefact filed under two of those principles carries its findings into both."""
    refs: dict[tuple[str, ...], FindingRef] = {}
    for link in c.links:
        for f in findings.get(link.principle, ()):
            key = (f.severity, f.code, f.message, f.subject or "", f.instance, str(f.collected_at))
            refs.setdefault(key, f)
    return sorted(refs.values(), key=lambda f: (SEVERITY_RANK.get(f.severity, 9), f.code, f.path, f.message))


def _control(
    c: ControlCoverage,
    by_path: Mapping[str, ArtefactCoverage],
    findings: Mapping[str, Sequence[FindingRef]],
    links: Links,
) -> str:
    rows = (
        f'<tr><th scope="row"><a href="#{principle_anchor(link.principle)}">{esc(link.principle)}</a></th>'
        f"<td>{esc(link.fit)}</td><td>{badge(link.status)}</td><td>{esc(link.note or '')}</td></tr>"
        for link in c.links
    )
    ordered = control_findings(c, findings)
    artefacts = current([by_path[p] for p in c.artefacts if p in by_path])
    return "\n".join(
        [
            f'<article class="control" id="{control_anchor(c.framework, c.id)}" data-row>',
            f'<h3><span class="pid">{esc(c.id)}</span> {esc(c.title)} {badge(c.status)}</h3>',
            table(f"Principles mapping to {c.id}", ("Principle", "Fit", "Principle status", "Note"), rows),
            _findings(f"Findings in the evidence of {c.id}", ordered, links, FINDINGS_PER_CONTROL),
            _evidence(f"Newest current evidence for {c.id}", artefacts, EVIDENCE_PER_CONTROL, links, None),
            '<p class="more">' + filter_link("control", f"{c.framework}:{c.id}", f"All artefacts for {c.id}"),
            "</p>",
            "</article>",
        ]
    )


def heatmap_view(coverage: Coverage, rows: Sequence[HeatRow]) -> str:
    head = "".join(
        f'<th scope="col"><a href="#{principle_anchor(p.id)}" title="{esc(p.title)}">{esc(p.id)}</a></th>'
        for p in coverage.principles
    )
    tables = []
    for fw in coverage.controls:
        body = "\n".join(_heat_row(r) for r in rows if r.framework == fw)
        title = coverage.catalog.frameworks.get(fw, fw)
        tables.append(
            f'<h3 id="heat-{esc(fw)}">{esc(short_framework(fw))}</h3>'
            + _heat_summary(fw, coverage.controls[fw])
            + '<div class="scroll"><table class="heat">'
            f"<caption>{esc(title)}: controls (rows) against EN 304 223 principles (columns). Each mapped "
            "cell shows how many current artefacts the principle holds, its freshness, and the mapping's "
            "fit.</caption>"
            f'<thead><tr><th scope="col">Control</th><th scope="col">Status</th>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>"
        )
    legend = (
        '<ul class="legend" aria-label="Legend">'
        '<li><span class="cell fresh" aria-hidden="true">3</span> fresh: the count of current artefacts</li>'
        '<li><span class="cell stale" aria-hidden="true">3</span> stale only (striped)</li>'
        '<li><span class="cell missing" aria-hidden="true">0</span> mapped, no evidence (bold 0)</li>'
        f"<li>{FIT_MARK['primary']} primary fit · {FIT_MARK['supporting']} supporting · "
        f"{FIT_MARK['weak']} weak (paler: thin support)</li>"
        '<li><span class="cell empty" aria-hidden="true"></span> not mapped</li></ul>'
    )
    return (
        '<section class="view" id="heatmap" aria-labelledby="heatmap-h">'
        '<h2 id="heatmap-h">Coverage heat map</h2>'
        '<p class="lead">Where evidence is thin: each row is a control, each column a principle mapping to '
        "it. Red cells with a bold 0 are mappings with no evidence, striped amber cells hold only stale "
        "evidence, pale cells are supporting or weak mappings. Hover a cell for its details.</p>"
        + legend
        + "".join(tables)
        + "</section>"
    )


def _heat_summary(framework: str, controls: Sequence[ControlCoverage]) -> str:
    """The counts the colours stand for, and the thin controls by name."""
    counts = {status: [c for c in controls if c.status == status] for status in ("fresh", "stale", "missing")}
    named = "".join(
        f" {label}: "
        + ", ".join(f'<a href="#{control_anchor(framework, c.id)}">{esc(c.id)}</a>' for c in counts[status])
        + "."
        for status, label in (("missing", "Without evidence"), ("stale", "Only stale evidence"))
        if counts[status]
    )
    return (
        f'<p class="heat-summary">{len(controls)} controls: {badge("fresh")} {len(counts["fresh"])} · '
        f"{badge('stale')} {len(counts['stale'])} · {badge('missing')} {len(counts['missing'])}.{named}</p>"
    )


def _heat_row(row: HeatRow) -> str:
    c = row.control
    cells = []
    for cell in row.cells:
        if cell is None:
            cells.append('<td class="cell empty"></td>')
            continue
        mark = FIT_MARK.get(cell.fit, "?")
        label = f"{cell.principle}: {cell.status}, {cell.fit} fit, {cell.current} current artefact(s)"
        cells.append(
            f'<td class="cell {esc(cell.status)} fit-{esc(cell.fit)}" title="{esc(label)}">'
            f'{cell.current}<span class="mark" aria-hidden="true">{mark}</span>'
            f'<span class="sr">{esc(label)}</span></td>'
        )
    return (
        f'<tr><th scope="row"><a href="#{control_anchor(row.framework, c.id)}">{esc(c.id)}</a> '
        f'<span class="ctitle">{esc(c.title)}</span></th><td>{badge(c.status)}</td>{"".join(cells)}</tr>'
    )
