"""The coverage model: what a store proves per artefact, principle, control, population, theme.

Plain frozen dataclasses, so the three renderers read one computed result and cannot disagree, and
the same store and `now` always give the same report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..collector import Period

Status = Literal["fresh", "stale", "missing"]
STATUSES: tuple[Status, ...] = ("fresh", "stale", "missing")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
FIT_RANK = {"primary": 0, "supporting": 1, "weak": 2}


def best_status(statuses: Iterable[Status]) -> Status:
    """Any fresh evidence satisfies an either-or need (a control mapped from several principles)."""
    seen = set(statuses)
    return "fresh" if "fresh" in seen else "stale" if "stale" in seen else "missing"


def worst_status(statuses: Iterable[Status]) -> Status:
    """A group needing all its parts (a theme's principles) is only as good as its weakest one."""
    seen = set(statuses)
    return "missing" if "missing" in seen else "stale" if "stale" in seen else "fresh"


@dataclass(frozen=True)
class ArtefactCoverage:
    """One filed artefact (a ledger `artefact` entry) with its latest observation folded in.

    `unchanged` entries do not create artefacts: they move `last_observed_at` forward, so snapshot
    evidence that is re-read and found identical stays fresh without being stored twice.
    """

    seq: int
    name: str
    instance: str
    collector: str
    kind: str
    run: str
    sha256: str
    size: int | None
    media_type: str | None
    paths: tuple[str, ...]
    meta_path: str | None
    principles: tuple[str, ...]
    controls: Mapping[str, tuple[str, ...]]
    findings: tuple[Mapping[str, Any], ...]
    collected_at: dt.datetime
    recorded_at: str
    last_observed_at: dt.datetime
    observations: int
    stale_after_seconds: int
    status: Status
    period: Period | None = None
    instant: dt.datetime | None = None
    superseded_by: int | None = None

    @property
    def path(self) -> str:
        """The canonical copy: the file in the folder of the artefact's first principle."""
        return self.paths[0] if self.paths else ""

    def path_for(self, principle: str) -> str:
        """The copy in this principle's own folder, so links stay inside the section they sit in."""
        if principle in self.principles and len(self.paths) == len(self.principles):
            return self.paths[self.principles.index(principle)]
        return self.path


@dataclass(frozen=True)
class FindingRef:
    """A finding with the artefact that shows it, so an auditor can open the evidence."""

    code: str
    severity: str
    message: str
    subject: str | None
    path: str
    instance: str
    collector: str
    collected_at: dt.datetime


@dataclass(frozen=True)
class PrincipleCoverage:
    id: str
    number: int
    clause: str
    title: str
    folder: str
    status: Status
    artefacts: tuple[ArtefactCoverage, ...]
    findings: tuple[FindingRef, ...]
    notes: tuple[str, ...] = ()

    @property
    def fresh(self) -> int:
        return sum(1 for a in self.artefacts if a.status == "fresh")

    @property
    def stale(self) -> int:
        return sum(1 for a in self.artefacts if a.status == "stale")

    def paths(self) -> list[str]:
        return [a.path_for(self.id) for a in self.artefacts]


@dataclass(frozen=True)
class ControlLink:
    """One principle's mapping to a control, with how well it fits and how well it is evidenced."""

    principle: str
    fit: str
    status: Status
    note: str | None = None


@dataclass(frozen=True)
class ControlCoverage:
    framework: str
    id: str
    title: str
    status: Status
    links: tuple[ControlLink, ...]
    artefacts: tuple[str, ...]

    @property
    def evidenced_fit(self) -> str | None:
        """The best fit among principles that have any evidence: `weak` means thin support."""
        fits = [link.fit for link in self.links if link.status != "missing"]
        return min(fits, key=lambda f: FIT_RANK.get(f, 9)) if fits else None


@dataclass(frozen=True)
class Population:
    """The periods an `events` instance covers: auditors sample from the whole audit period."""

    instance: str
    collector: str
    covered: tuple[Period, ...]
    holes: tuple[Period, ...]
    artefacts: int


@dataclass(frozen=True)
class RunInstance:
    id: str
    collector: str
    status: str
    period: Mapping[str, Any] | None
    finished_at: str | None


@dataclass(frozen=True)
class RunSummary:
    run: str
    seq: int
    path: str
    recorded_at: str
    instances: tuple[RunInstance, ...]

    def count(self, status: str) -> int:
        return sum(1 for inst in self.instances if inst.status == status)


@dataclass(frozen=True)
class AsGiven:
    """A control ID as the seed mapping table gave it, with what we know of it now."""

    framework: str
    id: str
    status: Status | None  # None: no principle in the catalogue maps to it
    correction: str | None


@dataclass(frozen=True)
class ThemeCoverage:
    id: str
    title: str
    status: Status
    principles: tuple[tuple[str, Status], ...]
    as_given: tuple[AsGiven, ...]
    corrections: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LedgerSummary:
    entries: int
    head: str


@dataclass(frozen=True)
class CatalogInfo:
    version: str
    sha256: str
    source: str  # the store path of the filed catalogue, or "builtin"
    frameworks: Mapping[str, str]


@dataclass(frozen=True)
class Coverage:
    store: Path
    generated_at: dt.datetime
    catalog: CatalogInfo
    ledger: LedgerSummary
    artefacts: tuple[ArtefactCoverage, ...]
    principles: tuple[PrincipleCoverage, ...]
    controls: Mapping[str, tuple[ControlCoverage, ...]]
    populations: tuple[Population, ...]
    runs: tuple[RunSummary, ...]
    themes: tuple[ThemeCoverage, ...]
    warnings: tuple[str, ...] = ()

    def principle(self, pid: str) -> PrincipleCoverage:
        for p in self.principles:
            if p.id == pid:
                return p
        raise KeyError(pid)

    def control(self, framework: str, cid: str) -> ControlCoverage:
        for c in self.controls.get(framework, ()):
            if c.id == cid:
                return c
        raise KeyError(f"{framework}:{cid}")

    def gaps(self) -> list[PrincipleCoverage]:
        return [p for p in self.principles if p.status == "missing"]
