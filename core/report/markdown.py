"""The auditor's view: one section per principle and per control framework, linked to the evidence.

Links are relative to the store folder, so the report saved at the store's top level (or opened
next to a copy of it) leads straight to each artefact file. Theme corrections are shown in full:
an auditor working from the seed mapping table must see where and why it was changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from ..collector import utc_iso
from .model import (
    STATUSES,
    ArtefactCoverage,
    ControlCoverage,
    Coverage,
    PrincipleCoverage,
    ThemeCoverage,
)

LINKS_PER_CONTROL = 5


def render_markdown(coverage: Coverage) -> str:
    parts = [
        _header(coverage),
        _summary(coverage),
        "## Principles",
        *(_principle(p) for p in coverage.principles),
        "## Controls",
        *(_framework(coverage, fw) for fw in coverage.controls),
        _populations(coverage),
        _themes(coverage.themes),
        _runs(coverage),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def cell(text: object) -> str:
    """Table-safe text: a `|` or line break would split the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def link(path: str, label: str | None = None) -> str:
    text = (label or path.rsplit("/", 1)[-1]).replace("[", "\\[").replace("]", "\\]")
    return f"[{text}]({quote(path)})"


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


def _counts(statuses: Iterable[str]) -> str:
    listed = list(statuses)
    return ", ".join(f"{listed.count(s)} {s}" for s in STATUSES)


def _header(c: Coverage) -> str:
    catalog = c.catalog.source
    source = "built-in" if catalog == "builtin" else link(catalog, catalog)
    lines = [
        "# Evidence coverage report",
        "",
        f"- **Store:** `{c.store}`",
        f"- **Generated:** {utc_iso(c.generated_at)}",
        f"- **Catalogue:** {c.catalog.version} ({source}), SHA-256 `{c.catalog.sha256}`",
        f"- **Ledger:** {c.ledger.entries} entries, head SHA-256 `{c.ledger.head}`",
        f"- **Artefacts:** {len(c.artefacts)}",
    ]
    if c.warnings:
        lines += ["", "> **Warnings**", ">"] + [f"> - {w}" for w in c.warnings]
    return "\n".join(lines)


def _summary(c: Coverage) -> str:
    rows = [
        (
            f"[{p.id}](#{p.id.lower()})",
            p.title,
            f"**{p.status}**",
            p.fresh,
            p.stale,
            len(p.findings),
        )
        for p in c.principles
    ]
    table = _table(["Principle", "Title", "Status", "Fresh", "Stale", "Findings"], rows)
    gaps = ", ".join(p.id for p in c.gaps()) or "none"
    lines = ["## Summary", "", f"Principles: {_counts(p.status for p in c.principles)}.", ""]
    return "\n".join([*lines, table, "", f"Gaps (no evidence): {gaps}."])


def _artefact_row(a: ArtefactCoverage, pid: str) -> tuple[object, ...]:
    status = a.status + (f" (superseded by #{a.superseded_by})" if a.superseded_by else "")
    return (
        link(a.path_for(pid)),
        a.instance,
        a.collector,
        utc_iso(a.collected_at),
        utc_iso(a.last_observed_at),
        status,
        f"`{a.sha256[:16]}`",
    )


def _principle(p: PrincipleCoverage) -> str:
    lines = [
        f'<a id="{p.id.lower()}"></a>',
        f"### {p.id}: {p.title}",
        "",
        f"Clause {p.clause}, folder `{p.folder}`. Status: **{p.status}** ({p.fresh} fresh, {p.stale} stale).",
    ]
    if p.notes:
        lines += ["", *(f"> {note}" for note in p.notes)]
    if not p.artefacts:
        lines += ["", "_No evidence filed: a gap._"]
    else:
        head = [
            "Artefact",
            "Instance",
            "Collector",
            "Collected",
            "Last observed",
            "Status",
            "SHA-256",
        ]
        lines += ["", _table(head, (_artefact_row(a, p.id) for a in p.artefacts))]
    if p.findings:
        lines += ["", "**Findings**", ""]
        for f in p.findings:
            subject = f" ({cell(f.subject)})" if f.subject else ""
            lines.append(f"- **{f.severity}** `{f.code}`: {f.message}{subject}, in {link(f.path)}")
    return "\n".join(lines)


def _control_row(c: ControlCoverage) -> tuple[object, ...]:
    mapped = ", ".join(f"{m.principle} ({m.fit})" for m in c.links)
    shown = [link(path) for path in c.artefacts[-LINKS_PER_CONTROL:]]
    if len(c.artefacts) > LINKS_PER_CONTROL:
        shown.insert(0, f"{len(c.artefacts) - LINKS_PER_CONTROL} earlier, then")
    status = f"**{c.status}**"
    if c.evidenced_fit == "weak":
        status += " (weak fit only)"
    return (c.id, c.title, status, mapped, ", ".join(shown) or "none")


def _framework(c: Coverage, fw: str) -> str:
    controls = c.controls[fw]
    title = c.catalog.frameworks.get(fw, fw)
    head = ["Control", "Title", "Status", "Principles (fit)", "Artefacts"]
    return "\n".join(
        [
            f"### {title} (`{fw}`)",
            "",
            f"{_counts(x.status for x in controls)} of {len(controls)} mapped controls.",
            "",
            _table(head, (_control_row(x) for x in controls)),
        ]
    )


def _populations(c: Coverage) -> str:
    if not c.populations:
        return ""
    lines = [
        "## Populations",
        "",
        "Event evidence per instance: covered periods and the holes between.",
    ]
    for pop in c.populations:
        rows = [(utc_iso(p.start), utc_iso(p.end), "covered") for p in pop.covered]
        rows += [(utc_iso(h.start), utc_iso(h.end), "**hole**") for h in pop.holes]
        rows.sort()
        lines += ["", f"### {pop.instance} (`{pop.collector}`)", ""]
        lines.append(_table(["From", "To", "Coverage"], rows))
    return "\n".join(lines)


def _theme(t: ThemeCoverage) -> str:
    principles = ", ".join(f"[{pid}](#{pid.lower()}) ({status})" for pid, status in t.principles)
    rows = [
        (g.framework, g.id, g.status or "not mapped in the catalogue", g.correction or "") for g in t.as_given
    ]
    lines = [f"### {t.id}: {t.title}", "", f"Status: **{t.status}**. Principles: {principles}."]
    lines += ["", _table(["Framework", "Control as given", "Control status", "Correction"], rows)]
    if t.corrections:
        lines += ["", "**Corrections to the seed table**", ""]
        lines += [f"- **{cid}**: {why}" for cid, why in t.corrections]
    return "\n".join(lines)


def _themes(themes: Sequence[ThemeCoverage]) -> str:
    if not themes:
        return ""
    intro = "The seed mapping table's themes, with its control IDs as given and our corrections."
    return "\n\n".join(["## Themes", intro, *(_theme(t) for t in themes)])


def _runs(c: Coverage) -> str:
    if not c.runs:
        return "## Runs\n\nNo run records."
    rows = []
    for r in c.runs:
        not_ok = ", ".join(f"{i.id} ({i.status})" for i in r.instances if i.status != "ok")
        rows.append((link(r.path, r.run), r.recorded_at, r.count("ok"), not_ok or "none"))
    return "## Runs\n\n" + _table(["Run", "Recorded", "OK", "Not OK"], rows)
