"""The catalogue: EN 304 223 principles and the controls of other frameworks each one maps to.

Data, not code: the shipped file `en304223.yaml` is loaded and checked here, then optionally extended
from `collectors.yaml` (extra framework files, added or removed mappings). The effective catalogue is
filed with the evidence, so a report can always be regenerated from the folder alone.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..collector import canonical_json
from ..errors import CatalogError

SCHEMA_VERSION = 1
FITS = ("primary", "supporting", "weak")
PRINCIPLE_ID = re.compile(r"^P[1-9][0-9]*$")
FRAMEWORK_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Control:
    """One control of a framework as mapped from a principle, with how well it fits."""

    framework: str
    id: str
    title: str
    fit: str = "supporting"
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"framework": self.framework, "id": self.id, "title": self.title, "fit": self.fit}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Principle:
    id: str
    number: int
    clause: str
    title: str
    phase: str
    provisions: tuple[Mapping[str, Any], ...]
    mappings: Mapping[str, tuple[Control, ...]]
    notes: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The store folder for this principle: `P05-identify-track-and-protect-the-assets`."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return f"P{self.number:02d}-{slug}"[:80].rstrip("-")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "clause": self.clause,
            "title": self.title,
            "phase": self.phase,
            "provisions": [dict(p) for p in self.provisions],
            "mappings": {fw: [c.to_dict() for c in cs] for fw, cs in sorted(self.mappings.items())},
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Catalog:
    """The effective catalogue; `document()` is what gets filed and hashed."""

    version: str
    frameworks: Mapping[str, str]
    principles: Mapping[str, Principle]
    themes: tuple[Mapping[str, Any], ...] = ()
    sources: tuple[str, ...] = field(default=())

    def principle(self, pid: str) -> Principle:
        try:
            return self.principles[pid.upper()]
        except KeyError:
            raise CatalogError(
                f"unknown principle {pid!r}; the catalogue has {', '.join(self.principles)}"
            ) from None

    def controls_for(self, principle_ids: Iterable[str]) -> dict[str, list[str]]:
        """Control IDs per framework that evidence for these principles supports, sorted."""
        out: dict[str, set[str]] = {fw: set() for fw in self.frameworks if fw != "en304223"}
        for pid in principle_ids:
            for fw, controls in self.principle(pid).mappings.items():
                out.setdefault(fw, set()).update(c.id for c in controls)
        return {fw: sorted(ids, key=_control_sort_key) for fw, ids in out.items()}

    def principles_for_control(self, control_id: str) -> list[tuple[Principle, Control]]:
        """Every principle that maps to a control ID (any framework), with the mapping."""
        wanted = control_id.strip().upper()
        return [
            (p, c)
            for p in self.principles.values()
            for cs in p.mappings.values()
            for c in cs
            if c.id.upper() == wanted
        ]

    def document(self) -> dict[str, Any]:
        return {
            "evidentia_catalog": SCHEMA_VERSION,
            "catalog_version": self.version,
            "frameworks": {k: {"title": v} for k, v in sorted(self.frameworks.items())},
            "principles": [p.to_dict() for p in self.principles.values()],
            "themes": [dict(t) for t in self.themes],
            "sources": list(self.sources),
        }

    @functools.cached_property
    def _content(self) -> bytes:
        return canonical_json(self.document())

    def content(self) -> bytes:
        """The filed form of the catalogue (computed once: it is hashed for every artefact)."""
        return self._content

    def sha256(self) -> str:
        return hashlib.sha256(self._content).hexdigest()


def _control_sort_key(cid: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"([0-9]+)", cid))


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise CatalogError(f"{where}: {message}")


def _parse_control(fw: str, raw: Any, where: str) -> Control:
    _require(isinstance(raw, dict), where, "a mapping must be an object with id and title")
    cid, title = raw.get("id"), raw.get("title")
    _require(isinstance(cid, str) and bool(cid.strip()), where, "mapping without an 'id'")
    _require(isinstance(title, str) and bool(title.strip()), where, f"mapping {cid} has no 'title'")
    fit = raw.get("fit", "supporting")
    _require(fit in FITS, where, f"mapping {cid}: fit must be one of {', '.join(FITS)}, not {fit!r}")
    note = raw.get("note") or raw.get("flag")
    return Control(framework=fw, id=cid.strip(), title=title.strip(), fit=fit, note=note)


def _parse_principle(raw: Any, where: str) -> Principle:
    _require(isinstance(raw, dict), where, "each principle must be an object")
    pid = raw.get("id")
    _require(isinstance(pid, str) and bool(PRINCIPLE_ID.match(pid)), where, f"bad principle id {pid!r}")
    where = f"{where} ({pid})"
    for key in ("title", "clause", "phase"):
        _require(isinstance(raw.get(key), str), where, f"missing or non-text '{key}'")
    provisions = raw.get("provisions", [])
    _require(isinstance(provisions, list), where, "'provisions' must be a list")
    for prov in provisions:
        _require(isinstance(prov, dict) and isinstance(prov.get("id"), str), where, "provision without id")
    mappings_raw = raw.get("mappings", {})
    _require(isinstance(mappings_raw, dict), where, "'mappings' must map framework to a list")
    mappings = {}
    for fw, items in mappings_raw.items():
        _require(isinstance(items, list), f"{where} mappings.{fw}", "must be a list")
        mappings[fw] = tuple(_parse_control(fw, c, f"{where} mappings.{fw}") for c in items)
    notes = tuple(str(raw[k]) for k in ("coverage_note", "seed_note") if k in raw)
    return Principle(
        id=pid,
        number=int(raw.get("number", pid[1:])),
        clause=raw["clause"],
        title=raw["title"],
        phase=raw["phase"],
        provisions=tuple(provisions),
        mappings=mappings,
        notes=notes,
    )


def parse_catalog(data: Any, source: str) -> Catalog:
    """Check and build a catalogue from parsed YAML; errors name the source and the bad entry."""
    _require(isinstance(data, dict), source, "a catalogue must be a YAML mapping")
    _require(
        data.get("evidentia_catalog") == SCHEMA_VERSION,
        source,
        f"'evidentia_catalog: {SCHEMA_VERSION}' missing; is this an Evidentia catalogue?",
    )
    version = data.get("catalog_version")
    _require(isinstance(version, str), source, "missing 'catalog_version'")
    raw_principles = data.get("principles")
    _require(isinstance(raw_principles, list) and bool(raw_principles), source, "no 'principles'")
    principles: dict[str, Principle] = {}
    for i, raw in enumerate(raw_principles):
        p = _parse_principle(raw, f"{source}: principles[{i}]")
        _require(p.id not in principles, source, f"principle {p.id} appears twice")
        principles[p.id] = p
    frameworks_raw = data.get("frameworks", {})
    _require(isinstance(frameworks_raw, dict), source, "'frameworks' must be a mapping")
    frameworks = {k: str((v or {}).get("title", k)) for k, v in frameworks_raw.items()}
    themes = data.get("themes", [])
    _require(isinstance(themes, list), source, "'themes' must be a list")
    for t in themes:
        unknown = [p for p in (t or {}).get("principles", []) if p not in principles]
        _require(not unknown, source, f"theme {t.get('id')!r} names unknown principles {unknown}")
    return Catalog(
        version=version,
        frameworks=frameworks,
        principles=principles,
        themes=tuple(themes),
        sources=(source,),
    )


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"catalogue file not found: {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None


@functools.lru_cache(maxsize=1)
def load_builtin() -> Catalog:
    """The catalogue shipped with this version of Evidentia (parsed once per process)."""
    text = resources.files(__package__).joinpath("en304223.yaml").read_text(encoding="utf-8")
    return parse_catalog(yaml.safe_load(text), "evidentia/catalog/en304223.yaml")


def add_framework_file(catalog: Catalog, path: Path) -> Catalog:
    """Merge a framework file: `framework: {id, title}` and `controls: [{id, title, principles}]`."""
    data = _read_yaml(path)
    where = str(path)
    _require(isinstance(data, dict), where, "a framework file must be a YAML mapping")
    fw = data.get("framework")
    _require(isinstance(fw, dict) and isinstance(fw.get("id"), str), where, "missing 'framework.id'")
    fw_id = fw["id"]
    _require(bool(FRAMEWORK_ID.match(fw_id)), where, f"framework id {fw_id!r} must be lower-case")
    controls = data.get("controls")
    _require(isinstance(controls, list) and bool(controls), where, "no 'controls' listed")
    additions = []
    for i, raw in enumerate(controls):
        cw = f"{where}: controls[{i}]"
        control = _parse_control(fw_id, raw, cw)
        pids = raw.get("principles")
        _require(isinstance(pids, list) and bool(pids), cw, f"control {control.id} names no principles")
        for pid in pids:
            _require(pid in catalog.principles, cw, f"unknown principle {pid!r}")
            additions.append((pid, control))
    merged = _with_mappings(catalog, additions, [])
    frameworks = {**catalog.frameworks, fw_id: str(fw.get("title", fw_id))}
    return replace(merged, frameworks=frameworks, sources=(*catalog.sources, where))


def apply_mapping_overrides(
    catalog: Catalog, add: list[dict[str, Any]], remove: list[dict[str, Any]], where: str
) -> Catalog:
    """Add (or replace, same framework and id) and remove principle-to-control mappings."""
    additions: list[tuple[str, Control]] = []
    for i, raw in enumerate(add):
        w = f"{where}: catalog.mappings[{i}]"
        pid, fw = str(raw.get("principle")), raw.get("framework")
        _require(pid in catalog.principles, w, f"unknown principle {pid!r}")
        _require(isinstance(fw, str) and bool(fw), w, "missing 'framework'")
        fw = str(fw)
        body = {"id": raw.get("control"), "title": raw.get("title"), "fit": raw.get("fit", "supporting")}
        additions.append((pid, _parse_control(fw, body, w)))
    removals: list[tuple[str, str, str]] = []
    for i, raw in enumerate(remove):
        w = f"{where}: catalog.unmap[{i}]"
        pid, fw, cid = (str(raw.get(k)) for k in ("principle", "framework", "control"))
        _require(pid in catalog.principles, w, f"unknown principle {pid!r}")
        present = {c.id for c in catalog.principles[pid].mappings.get(fw, ())}
        _require(cid in present, w, f"{pid} has no {fw} mapping {cid!r} to remove")
        removals.append((pid, fw, cid))
    merged = _with_mappings(catalog, additions, removals)
    return replace(merged, sources=(*catalog.sources, f"{where} (catalog overrides)"))


def _with_mappings(
    catalog: Catalog,
    additions: list[tuple[str, Control]],
    removals: list[tuple[str, str, str]],
) -> Catalog:
    principles = dict(catalog.principles)
    for pid, control in additions:
        p = principles[pid]
        current = [c for c in p.mappings.get(control.framework, ()) if c.id != control.id]
        mappings = {**p.mappings, control.framework: (*current, control)}
        principles[pid] = replace(p, mappings=mappings)
    for pid, fw, cid in removals:
        p = principles[pid]
        kept = tuple(c for c in p.mappings.get(fw, ()) if c.id != cid)
        principles[pid] = replace(p, mappings={**p.mappings, fw: kept})
    return replace(catalog, principles=principles)


def load_catalog(extension: Mapping[str, Any] | None = None, base_dir: Path | None = None) -> Catalog:
    """The built-in catalogue with a config's `catalog:` section applied (already validated)."""
    catalog = load_builtin()
    if not extension:
        return catalog
    for rel in extension.get("frameworks", []):
        path = Path(rel)
        catalog = add_framework_file(catalog, path if path.is_absolute() else (base_dir or Path()) / path)
    add, remove = extension.get("mappings", []), extension.get("unmap", [])
    if add or remove:
        catalog = apply_mapping_overrides(catalog, add, remove, "collectors.yaml")
    return catalog
