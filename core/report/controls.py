"""Control and theme coverage: the principles' evidence seen through other frameworks' controls.

A control is evidenced by any principle that maps to it (each mapping is an alternative route), so
it takes the best status among them, and the fit of each mapping is kept so thin support shows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalog import Catalog, Control, Principle
from .model import (
    AsGiven,
    ControlCoverage,
    ControlLink,
    PrincipleCoverage,
    Status,
    ThemeCoverage,
    best_status,
    worst_status,
)

OWN_FRAMEWORK = "en304223"  # the principles themselves, not a framework they map to


def control_coverage(
    catalog: Catalog, principles: Sequence[PrincipleCoverage]
) -> dict[str, tuple[ControlCoverage, ...]]:
    """Per framework, each mapped control, judged by the best-evidenced principle mapping to it."""
    by_id = {p.id: p for p in principles}
    links: dict[str, dict[str, list[tuple[Principle, Control]]]] = defaultdict(dict)
    for principle in sorted(catalog.principles.values(), key=lambda p: p.number):
        for fw, controls in principle.mappings.items():
            for control in controls:
                links[fw].setdefault(control.id, []).append((principle, control))
    frameworks = sorted({fw for fw in catalog.frameworks if fw != OWN_FRAMEWORK} | set(links))
    return {
        fw: tuple(
            _control(fw, cid, links[fw][cid], by_id) for cid in sorted(links.get(fw, {}), key=natural_key)
        )
        for fw in frameworks
    }


def _control(
    fw: str,
    cid: str,
    mapped: list[tuple[Principle, Control]],
    by_id: Mapping[str, PrincipleCoverage],
) -> ControlCoverage:
    control_links = tuple(
        ControlLink(principle=p.id, fit=c.fit, status=by_id[p.id].status, note=c.note) for p, c in mapped
    )
    seen: dict[str, int] = {}
    for p, _ in mapped:
        for artefact in by_id[p.id].artefacts:
            seen.setdefault(artefact.path, artefact.seq)
    return ControlCoverage(
        framework=fw,
        id=cid,
        title=mapped[0][1].title,
        status=best_status(link.status for link in control_links),
        links=control_links,
        artefacts=tuple(sorted(seen, key=lambda path: (seen[path], path))),
    )


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """`A.5.9` before `A.5.10`, `CC6.1` before `CC6.10`: how auditors read control lists."""
    parts = re.split(r"([0-9]+)", text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def theme_coverage(
    catalog: Catalog,
    principles: Sequence[PrincipleCoverage],
    controls: Mapping[str, Sequence[ControlCoverage]],
) -> tuple[ThemeCoverage, ...]:
    """The seed table's themes, with its control IDs as given and every correction shown."""
    status = {p.id: p.status for p in principles}
    known = {(fw, c.id): c.status for fw, cs in controls.items() for c in cs}
    return tuple(_theme(theme, status, known) for theme in catalog.themes)


def _theme(
    theme: Mapping[str, Any],
    status: Mapping[str, Status],
    known: Mapping[tuple[str, str], Status],
) -> ThemeCoverage:
    """A theme groups principles that together make up one row of the seed table, so it is judged
    by its weakest principle; its as-given controls are judged from the catalogue where they exist
    (`None`: nothing maps to that ID, as with the nonexistent CC8.3)."""
    pids = [str(p) for p in theme.get("principles", [])]
    corrections = tuple((str(c.get("id", "")), str(c.get("why", ""))) for c in theme.get("corrections") or ())
    why = dict(corrections)
    as_given = tuple(
        AsGiven(framework=fw, id=cid, status=known.get((fw, cid)), correction=why.get(cid))
        for fw, ids in sorted(dict(theme.get("as_given") or {}).items())
        for cid in map(str, ids)
    )
    statuses: list[Status] = [status.get(p, "missing") for p in pids]
    return ThemeCoverage(
        id=str(theme.get("id", "")),
        title=str(theme.get("title", "")),
        status=worst_status(statuses) if statuses else "missing",
        principles=tuple(zip(pids, statuses, strict=True)),
        as_given=as_given,
        corrections=corrections,
    )
