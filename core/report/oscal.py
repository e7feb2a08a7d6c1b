"""The store as an OSCAL Assessment Results document, for GRC tools and auditors who speak OSCAL.

Reproducible by design: the document is a pure function of the store folder. Every UUID is a UUID5
over a fixed namespace, the store's identity (the SHA-256 of its first ledger line) and a stable key
(an artefact's path, a control's ID), so two exports of the same store are byte-identical and an
object keeps its UUID as the store grows (OSCAL asks for per-subject UUIDs across revisions).
Timestamps come from the ledger, never the wall clock, and freshness is judged as of the last
filing. Nothing machine-local (the store's absolute path) goes in, so a copied folder exports the
same document.

Links to evidence are relative URI references, which OSCAL tools resolve against the document's own
location: relative to the folder the document is written to (`--output`), or to the store's top
folder when it is printed. A document written beside a zipped store keeps working once unzipped.

Evidentia authors no assessment plan: `import-ap` points at a back-matter resource for the filed
catalogue, which is what decided the controls reviewed here, and says so in its remarks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..collector import utc_iso
from ..errors import StoreError
from ..store import layout
from ..store.ledger import iter_lines, line_hash
from .coverage import build_coverage
from .model import (
    SEVERITY_RANK,
    ArtefactCoverage,
    Coverage,
    FindingRef,
    PrincipleCoverage,
    Status,
    best_status,
)
from .source import parse_time, read_ledger

OSCAL_VERSION = "1.2.1"  # the model version the tests validate against (compliance-trestle's models)
NAMESPACE = uuid.UUID("a6759cd9-325a-54f7-ad1e-c69e2e6fb1c6")  # uuid5(NAMESPACE_URL, "urn:evidentia:oscal")
PROP_NS = "urn:evidentia:oscal"
FRAMEWORKS = ("en304223", "iso27001", "soc2")  # the principles themselves, then what they map to
FAILING = ("critical", "high", "medium")  # collector findings at these severities fail a control
_TOKEN = re.compile(r"^[^\W\d][\w.\-]*$")  # OSCAL's TokenDatatype: a letter or _, then word . -
_NOT_TOKEN_CHAR = re.compile(r"[^\w.\-]")

Json = dict[str, Any]


def oscal_json(root: Path, written_to: Path | None = None) -> str:
    """The OSCAL Assessment Results document for the store at `root`, as stable JSON text.

    `written_to` is the folder the document will be written to, so its links resolve from there;
    None means the store's top folder.
    """
    doc = assessment_results(root, written_to)
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def assessment_results(root: Path, written_to: Path | None = None) -> Json:
    """Build the `{"assessment-results": ...}` document from the store folder alone."""
    ledger = read_ledger(root)
    if not ledger.entries:
        raise StoreError(f"{root} holds no filings yet: nothing to assess", hint="run `evidentia collect`")
    times = [t for t in (parse_time(e.get("recorded_at")) for e in ledger.entries) if t is not None]
    first, last = min(times), max(times)
    coverage = build_coverage(root, last)
    ids = Ids(_store_identity(root))
    links = Links.between(root, written_to)
    meta_by_seq = {int(e["seq"]): e for e in ledger.entries if e.get("type") == "artefact" and "seq" in e}
    catalog_resource = _catalog_resource(coverage, ids, links)
    artefact_resources = [
        _artefact_resource(a, meta_by_seq.get(a.seq, {}), ids, links) for a in coverage.artefacts
    ]
    result: Json = {
        "uuid": ids.of("result"),
        "title": "Evidence filed in an Evidentia store",
        "description": (
            "Observations are the artefacts in the store's ledger, each with its SHA-256 and its path "
            "relative to the store folder. Findings judge each EN 304 223 principle, ISO/IEC 27001:2022 "
            f"control and SOC 2 criterion from the evidence, as of the last filing ({utc_iso(last)})."
        ),
        "start": utc_iso(first),
        "end": utc_iso(last),
        "props": [
            _prop("ledger-head", coverage.ledger.head),
            _prop("ledger-entries", coverage.ledger.entries),
        ],
        "reviewed-controls": _reviewed_controls(coverage),
    }
    components = _components(coverage.artefacts, ids)
    if components:
        result["local-definitions"] = {
            "assessment-assets": {
                "components": components,
                "assessment-platforms": [
                    {
                        "uuid": ids.of("platform"),
                        "title": "Evidentia",
                        "uses-components": [{"component-uuid": c["uuid"]} for c in components],
                    }
                ],
            }
        }
    observations = [_observation(a, ids, links) for a in coverage.artefacts]
    if observations:
        result["observations"] = observations
    findings = _findings(coverage, ids)
    if findings:
        result["findings"] = findings
    return {
        "assessment-results": {
            "uuid": ids.of("assessment-results"),
            "metadata": {
                "title": "Evidentia assessment results",
                "last-modified": utc_iso(last),
                "version": f"ledger {coverage.ledger.entries} entries, head {coverage.ledger.head}",
                "oscal-version": OSCAL_VERSION,
                "props": [
                    _prop("catalog-version", coverage.catalog.version),
                    _prop("catalog-sha256", coverage.catalog.sha256),
                    _prop("evidence-base", links.prefix or "."),
                ],
                "remarks": (
                    "Generated by Evidentia from the evidence store alone. Links to evidence "
                    "(relevant-evidence and back-matter rlinks, each with its SHA-256) are relative to "
                    + (
                        "the store's top folder."
                        if not links.prefix
                        else f"this document's folder; the store is at `{links.prefix.rstrip('/')}`."
                    )
                    + " Verify the store first (`evidentia verify`, or the stock-tools procedure of its "
                    "README.md); the finding states are Evidentia's reading of the evidence, for an "
                    "assessor to confirm."
                ),
            },
            "import-ap": {
                "href": f"#{catalog_resource['uuid']}",
                "remarks": (
                    "Evidentia does not author an OSCAL assessment plan. The plan in effect is the "
                    "catalogue filed in the store (EN 304 223 principles and the ISO/IEC 27001 and SOC 2 "
                    "controls they map to), referenced here as a back-matter resource."
                ),
            },
            "results": [result],
            "back-matter": {"resources": [catalog_resource, *artefact_resources]},
        }
    }


class Links:
    """Hrefs to store files as URI references relative to the document's folder (OSCAL resolves them
    against the document's location, so an absolute path would break on the auditor's machine)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @classmethod
    def between(cls, root: Path, written_to: Path | None) -> Links:
        if written_to is None:
            return cls("")
        try:
            rel = os.path.relpath(root.resolve(), written_to.resolve())
        except ValueError:  # another drive (Windows): no relative path exists
            return cls(root.resolve().as_uri() + "/")
        rel = Path(rel).as_posix()
        return cls("" if rel == "." else quote(rel, safe="/") + "/")

    def href(self, store_path: str) -> str:
        return self.prefix + quote(store_path, safe="/")


class Ids:
    """UUID5s scoped to one store, so equal keys in different stores never share a UUID."""

    def __init__(self, store_identity: str) -> None:
        self.store = store_identity

    def of(self, *key: object) -> str:
        return str(uuid.uuid5(NAMESPACE, "\x1f".join([self.store, *map(str, key)])))


def _store_identity(root: Path) -> str:
    """The SHA-256 of the first ledger line: fixed for the store's life, unique to it (random filing id)."""
    for _, line in iter_lines(root / layout.LEDGER):
        return line_hash(line)
    raise StoreError(f"{root} has an empty {layout.LEDGER}")


def oscal_token(control_id: str) -> str:
    """A control ID as an OSCAL token: as is when it is one, else `_`-prefixed (`6.1.2` -> `_6.1.2`)."""
    if _TOKEN.match(control_id):
        return control_id
    cleaned = _NOT_TOKEN_CHAR.sub("-", control_id)
    return cleaned if _TOKEN.match(cleaned) else f"_{cleaned}"


def _prop(name: str, value: object) -> Json:
    return {"name": name, "ns": PROP_NS, "value": _text(str(value))}


def _text(value: str) -> str:
    """One line with no outer spaces (OSCAL titles and prop values); never empty."""
    return " ".join(value.split()) or "-"


# -- back matter: the catalogue and every artefact, with hashes -------------------------------------


def _catalog_resource(coverage: Coverage, ids: Ids, links: Links) -> Json:
    info = coverage.catalog
    resource: Json = {
        "uuid": ids.of("catalog", info.sha256),
        "title": f"Evidentia catalogue {info.version}",
        "description": "The frameworks and principle-to-control mappings the evidence was judged against.",
        "props": [_prop("catalog-version", info.version)],
    }
    if info.source != "builtin":
        resource["rlinks"] = [
            {
                "href": links.href(info.source),
                "media-type": "application/json",
                "hashes": [_sha256(info.sha256)],
            }
        ]
    else:
        resource["remarks"] = "The store holds no catalogue; Evidentia's built-in one was used."
    return resource


def _artefact_resource(artefact: ArtefactCoverage, entry: Mapping[str, Any], ids: Ids, links: Links) -> Json:
    """Every copy of the artefact (one per principle folder) and its metadata record, with hashes."""
    media = artefact.media_type or "application/octet-stream"
    rlinks = [
        {"href": links.href(p), "media-type": media, "hashes": [_sha256(artefact.sha256)]}
        for p in artefact.paths
    ]
    meta_sha = entry.get("meta_sha256")
    if isinstance(meta_sha, str):
        rlinks += [
            {"href": links.href(str(p)), "media-type": "application/json", "hashes": [_sha256(meta_sha)]}
            for p in entry.get("meta_paths") or [entry.get("meta_path")]
            if p
        ]
    return {
        "uuid": ids.of("resource", artefact.seq, artefact.sha256),
        "title": _text(f"{artefact.instance}: {artefact.name}, {_when(artefact)}"),
        "rlinks": rlinks,
    }


def _sha256(value: str) -> Json:
    return {"algorithm": "SHA-256", "value": value}


# -- observations: one per artefact ----------------------------------------------------------------


def _components(artefacts: Iterable[ArtefactCoverage], ids: Ids) -> list[Json]:
    """Each collector that filed evidence, as the tool an observation originates from."""
    return [
        {
            "uuid": ids.of("collector", name),
            "type": "software",
            "title": name,
            "description": f"The Evidentia collector {name}.",
            "status": {"state": "operational"},
        }
        for name in sorted({a.collector for a in artefacts if a.collector})
    ]


def _when(artefact: ArtefactCoverage) -> str:
    """What the evidence speaks of: the period an events population covers, or a snapshot's instant."""
    if artefact.period and artefact.kind == "events":
        return f"covering [{utc_iso(artefact.period.start)}, {utc_iso(artefact.period.end)})"
    return f"as of {utc_iso(artefact.instant or artefact.collected_at)}"


def _observation(artefact: ArtefactCoverage, ids: Ids, links: Links) -> Json:
    when = _when(artefact)
    props = [
        _prop("instance", artefact.instance),
        _prop("collector", artefact.collector),
        _prop("kind", artefact.kind),
        _prop("ledger-seq", artefact.seq),
        _prop("sha256", artefact.sha256),
        _prop("evidence-status", artefact.status),
        *(_prop("principle", p) for p in artefact.principles),
    ]
    if artefact.last_observed_at != artefact.collected_at:  # a snapshot seen unchanged since
        props.append(_prop("last-observed", utc_iso(artefact.last_observed_at)))
    if artefact.superseded_by is not None:
        props.append(_prop("superseded-by-seq", artefact.superseded_by))
    observation: Json = {
        "uuid": ids.of("observation", artefact.seq, artefact.sha256),
        "title": _text(f"{artefact.instance}: {artefact.name}, {when}"),
        "description": (
            f"Evidence '{artefact.name}' filed by collector {artefact.collector} (instance "
            f"{artefact.instance}), {when}, SHA-256 {artefact.sha256}." + _findings_text(artefact.findings)
        ),
        "props": props,
        "links": [{"href": f"#{ids.of('resource', artefact.seq, artefact.sha256)}", "rel": "evidence"}],
        "methods": ["EXAMINE"],
        "relevant-evidence": [
            {
                "href": links.href(artefact.path),
                "description": _text(f"{artefact.name}, SHA-256 {artefact.sha256}"),
                "props": [_prop("sha256", artefact.sha256)],
            }
        ],
        "collected": utc_iso(artefact.collected_at),
        "expires": utc_iso(artefact.last_observed_at + dt.timedelta(seconds=artefact.stale_after_seconds)),
    }
    if artefact.collector:
        observation["origins"] = [
            {"actors": [{"type": "tool", "actor-uuid": ids.of("collector", artefact.collector)}]}
        ]
    return observation


def _findings_text(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return ""
    lines = [
        f"- [{f.get('severity', 'medium')}] {f.get('code', '')}: {f.get('message', '')}" for f in findings
    ]
    return "\n\nCollector findings:\n" + "\n".join(lines)


# -- reviewed controls and findings: one per principle and per mapped control ------------------------


def _reviewed_controls(coverage: Coverage) -> Json:
    selections = []
    for fw, controls in _framework_controls(coverage):
        selections.append(
            {
                "description": _text(coverage.catalog.frameworks.get(fw, fw)),
                "props": [_prop("framework", fw)],
                "include-controls": [{"control-id": oscal_token(cid)} for cid, _, _ in controls],
            }
        )
    return {
        "description": "Each EN 304 223 principle, and each ISO/IEC 27001 and SOC 2 control mapped to one.",
        "control-selections": selections,
    }


ControlRow = tuple[str, str, tuple[PrincipleCoverage, ...]]


def _framework_controls(coverage: Coverage) -> list[tuple[str, list[ControlRow]]]:
    """(framework, [(control ID, title, the principles whose evidence speaks to it)])."""
    out: list[tuple[str, list[ControlRow]]] = [
        ("en304223", [(p.id, p.title, (p,)) for p in coverage.principles])
    ]
    by_id = {p.id: p for p in coverage.principles}
    for fw in FRAMEWORKS[1:]:
        rows = [
            (c.id, c.title, tuple(by_id[link.principle] for link in c.links if link.principle in by_id))
            for c in coverage.controls.get(fw, ())
        ]
        if rows:
            out.append((fw, rows))
    return out


def _findings(coverage: Coverage, ids: Ids) -> list[Json]:
    out = []
    for fw, controls in _framework_controls(coverage):
        fw_title = coverage.catalog.frameworks.get(fw, fw)
        for cid, title, principles in controls:
            out.append(_control_finding(fw, fw_title, cid, title, principles, coverage, ids))
    return out


def _control_finding(
    fw: str,
    fw_title: str,
    cid: str,
    title: str,
    principles: Sequence[PrincipleCoverage],
    coverage: Coverage,
    ids: Ids,
) -> Json:
    status = best_status(p.status for p in principles)
    refs = _unique_findings(principles)
    state, reason, why = _judgement(status, refs)
    current = sorted(
        {a.seq: a for p in principles for a in p.artefacts if a.superseded_by is None}.values(),
        key=lambda a: a.seq,
    )
    mapped = ", ".join(p.id for p in principles)
    via = (
        "Judged from this principle's own evidence."
        if fw == "en304223"
        else f"Judged from the evidence of the principles it maps from: {mapped}."
        if principles
        else "No EN 304 223 principle maps to it."
    )
    description = f"{why} {via}" + (
        "\n\nCollector findings (each listed in full in its observation):\n" + _finding_counts(refs)
        if refs
        else ""
    )
    finding: Json = {
        "uuid": ids.of("finding", fw, cid),
        "title": _text(f"{fw_title} {cid}: {title}"),
        "description": description,
        "props": [
            _prop("framework", fw),
            _prop("control", cid),
            _prop("evidence-status", status),
            _prop("collector-findings", len(refs)),
        ],
        "target": {
            "type": "objective-id",
            "target-id": oscal_token(cid),
            "status": {"state": state, "reason": reason},
            "remarks": (
                "Determined automatically from the evidence filed (missing or stale evidence, or "
                f"collector findings of severity {', '.join(FAILING)}, make it not satisfied); "
                "an assessor confirms or overrides it."
            ),
        },
    }
    if current:
        finding["related-observations"] = [
            {"observation-uuid": ids.of("observation", a.seq, a.sha256)} for a in current
        ]
    return finding


def _unique_findings(principles: Iterable[PrincipleCoverage]) -> list[FindingRef]:
    """An artefact filed under several principles shows each finding once, not once per principle."""
    seen: dict[tuple[str, str, str, str, str], FindingRef] = {}
    for p in principles:
        for ref in p.findings:
            key = (ref.instance, utc_iso(ref.collected_at), ref.code, ref.subject or "", ref.message)
            seen.setdefault(key, ref)
    return sorted(seen.values(), key=lambda r: (SEVERITY_RANK.get(r.severity, 9), r.code, r.path, r.message))


def _judgement(status: Status, refs: Sequence[FindingRef]) -> tuple[str, str, str]:
    """(state, reason, why): Evidentia's reading of the evidence, for an assessor to confirm."""
    failing = [r for r in refs if r.severity in FAILING]
    if status == "missing":
        return "not-satisfied", "other", "No evidence is filed for it."
    if failing:
        return "not-satisfied", "fail", f"{len(failing)} collector finding(s) of severity medium or above."
    if status == "stale":
        return "not-satisfied", "other", "Its evidence is stale: none was collected recently enough."
    return "satisfied", "pass", "Fresh evidence is filed and shows no finding of severity medium or above."


def _finding_counts(refs: Sequence[FindingRef]) -> str:
    """One line per finding code and severity: a control's finding stays small however many there are."""
    counts: dict[tuple[str, str], int] = {}
    for ref in refs:
        counts[(ref.severity, ref.code)] = counts.get((ref.severity, ref.code), 0) + 1
    return "\n".join(f"- [{severity}] {code}: {n}" for (severity, code), n in counts.items())
