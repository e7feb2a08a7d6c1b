"""`evidentia catalog`: the catalogue as text or JSON, looked up by principle or by control."""

from __future__ import annotations

import json
from typing import Any

from .catalog import Catalog, Principle
from .errors import CatalogError


def _principle_text(p: Principle, *, provisions: bool) -> list[str]:
    lines = [f"{p.id}  {p.title}", f"    clause {p.clause}, phase {p.phase.replace('_', ' ')}"]
    if provisions:
        for prov in p.provisions:
            lines.append(f"    {prov['id']:<11} {prov.get('norm', ''):<6} {prov.get('summary', '')}")
    for fw, controls in sorted(p.mappings.items()):
        for c in controls:
            lines.append(f"    {fw:<9} {c.id:<7} {c.title}  [{c.fit}]")
    lines.extend(f"    note: {n}" for n in p.notes)
    return lines


def render_catalog(
    catalog: Catalog, *, as_json: bool, principle: str | None = None, control: str | None = None
) -> str:
    if principle:
        p = catalog.principle(principle)
        data: Any = p.to_dict()
        text = _principle_text(p, provisions=True)
    elif control:
        hits = catalog.principles_for_control(control)
        if not hits:
            raise CatalogError(
                f"no principle maps to control {control!r}",
                hint="IDs look like A.5.9, 8.2 (ISO 27001) or CC6.1 (SOC 2)",
            )
        title = hits[0][1].title
        data = {
            "control": hits[0][1].id,
            "framework": hits[0][1].framework,
            "title": title,
            "principles": [{"id": p.id, "title": p.title, "fit": c.fit, "note": c.note} for p, c in hits],
        }
        text = [f"{hits[0][1].framework} {hits[0][1].id}  {title}"]
        text += [f"    {p.id:<4} {p.title}  [{c.fit}]" for p, c in hits]
    else:
        data = catalog.document()
        text = [f"catalogue {catalog.version}: {', '.join(catalog.frameworks.values())}", ""]
        for p in catalog.principles.values():
            text += [*_principle_text(p, provisions=False), ""]
        if catalog.themes:
            text.append("themes of the original mapping table (with corrections):")
            for t in catalog.themes:
                text.append(f"  {t['id']}: {t['title']} -> {', '.join(t.get('principles', []))}")
                text += [f"      correction {c['id']}: {c['why']}" for c in t.get("corrections", [])]
    if as_json:
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return "\n".join(text) + "\n"
