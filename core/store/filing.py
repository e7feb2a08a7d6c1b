"""`Filing`: a ledger entry seen from outside the store (what hooks and reports receive)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Filing:
    """One artefact entry of the ledger. `unchanged` filings point at an earlier filing's bytes."""

    seq: int
    type: str
    instance: str
    collector: str
    name: str
    sha256: str
    paths: tuple[str, ...]
    meta_path: str | None
    principles: tuple[str, ...]
    controls: Mapping[str, list[str]]
    findings: tuple[Mapping[str, Any], ...]
    recorded_at: str
    same_as: int | None = None

    @property
    def unchanged(self) -> bool:
        return self.type == "unchanged"

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Filing:
        return cls(
            seq=int(entry["seq"]),
            type=str(entry["type"]),
            instance=str(entry.get("instance", "")),
            collector=str(entry.get("collector", "")),
            name=str(entry.get("name", "")),
            sha256=str(entry.get("sha256", "")),
            paths=tuple(entry.get("paths", ())),
            meta_path=entry.get("meta_path"),
            principles=tuple(entry.get("principles", ())),
            controls=dict(entry.get("controls", {})),
            findings=tuple(entry.get("findings", ())),
            recorded_at=str(entry.get("recorded_at", "")),
            same_as=entry.get("same_as"),
        )
