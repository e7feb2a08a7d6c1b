"""The sample as evidence: the document an auditor checks and re-draws, filed beside its population.

The result is filed as new evidence with the seed, the method, the whole population, the artefacts
it came from and any hole in the window's coverage; existing evidence is never touched.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..collector import Period, utc_iso
from .errors import SamplingError
from .population import Item, Population, read_population
from .ranking import METHOD, REDRAW, check_seed, draw, new_seed
from .size_guidance import Frequency, Guidance, guidance
from .window import span, span_list


def sample_document(
    population: Population, picked: Sequence[tuple[str, Item]], seed: str, seed_given: bool, advice: Guidance
) -> dict[str, Any]:
    """The artefact's content: enough for an auditor to check completeness and re-draw the sample."""
    return {
        "evidentia_sample": 1,
        "population": {
            "instance": population.instance,
            "collector": population.collector,
            "window": population.window.to_dict(),
            "definition": (
                "Every item of the instance's events artefacts whose time lies in the window [start, end); "
                "an item without a time counts when its artefact's period lies wholly in the window. "
                "Items are read from each artefact's records (`items`, or a collector's own list key) "
                "and identified by `id` (or the collector's own id key); an id seen twice counts once."
            ),
            "size": len(population.items),
            "artefacts": [a.to_dict() for a in population.artefacts],
            "coverage": {
                "covered": [p.to_dict() for p in population.covered],
                "holes": [p.to_dict() for p in population.holes],
            },
            "duplicates": list(population.duplicates),
            "unplaced": population.unplaced,
            "items": [i.to_dict() for i in population.items],
        },
        "method": {
            "name": METHOD,
            "seed": seed,
            "seed_source": "given" if seed_given else "generated",
            "rule": (
                "For each item, rank = SHA-256 of the UTF-8 text '<seed>:<id>' as lowercase hex; sort "
                "the items by rank (then id) ascending; the sample is the first `size` items."
            ),
            "redraw": REDRAW,
        },
        "guidance": advice.to_dict(),
        "sample": [{"rank": r, **item.to_dict()} for r, item in picked],
    }


@dataclass(frozen=True)
class SampleRequest:
    """What `evidentia sample` was asked: recorded as the sample's parameters."""

    instance: str
    window: Period
    size: int | None = None
    seed: str | None = None
    frequency: Frequency | None = None

    def params(self, seed: str) -> dict[str, Any]:
        return {
            "population": self.instance,
            "from": utc_iso(self.window.start),
            "to": utc_iso(self.window.end),
            "size": self.size,
            "seed": seed,
            "frequency": self.frequency,
        }


def take_sample(
    root: Path, request: SampleRequest, *, signing_key: Path | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw and file a sample, holding the store lock throughout; return (document, ledger entry).

    With a signing key the new ledger head is signed before the lock is released, as a keyed run
    would, so a sample never leaves an unsigned tail behind it.

    Under the lock no run can add to the population between reading it and filing the sample, and
    an interrupted filing is completed (by opening the store) before the population is read.
    """
    from .. import __version__
    from ..collector import Artefact
    from ..report.source import load_store_catalog, read_ledger
    from ..store import layout
    from ..store.local import LocalStore
    from ..store.records import Provenance, file_artefact, file_catalog_if_changed

    if not (root / layout.LEDGER).is_file():
        raise SamplingError(f"{root} is not an evidence store (no {layout.LEDGER})", hint="pass --store")
    seed = new_seed() if request.seed is None else check_seed(request.seed)
    with LocalStore(root) as store:
        population = read_population(root, request.instance, request.window)
        if not population.items:
            raise SamplingError(
                f"instance {request.instance!r} has no items in the window {span(request.window)}",
                hint=f"{len(population.artefacts)} artefact(s) overlap it, covering "
                f"{span_list(population.covered)}",
            )
        advice = guidance(population, request.size, request.frequency)
        picked = draw(population.items, seed, advice.size)
        document = sample_document(population, picked, seed, request.seed is not None, advice)
        catalog, _, _ = load_store_catalog(root, read_ledger(root).entries)
        now = dt.datetime.now(dt.timezone.utc)
        window = request.window
        artefact = Artefact.json(
            f"sample-{window.start:%Y%m%dT%H%M%SZ}-{window.end:%Y%m%dT%H%M%SZ}",
            document,
            source=f"evidence store: {len(population.artefacts)} events artefact(s) of {request.instance}",
            summary={"population": len(population.items), "sample": len(picked), "method": METHOD},
        )
        prov = Provenance(
            instance=request.instance,
            collector="evidentia.sample",
            collector_version="1",
            plugin="evidentia",
            plugin_version=__version__,
            tool_version=__version__,
            run_id=f"sample-{secrets.token_hex(6)}",
            kind="snapshot",
            collected_at=now,
            period=Period(now, now),
            calls=[f"read {a.path} (sha256 {a.sha256})" for a in population.artefacts],
            params=request.params(seed),
            # a sample shows how the selection was made, not that a control operates now, so it
            # never makes a principle fresh by itself
            stale_after_seconds=0,
        )
        flushed = file_catalog_if_changed(store, catalog, now)
        _, more = file_artefact(store, catalog, artefact, population.principles, prov)
        flushed += more + store.flush()
        if signing_key is not None:
            from ..signing.statements import sign_store

            sign_store(store, signing_key, now)
    [entry] = [e for e in flushed if e.get("collector") == "evidentia.sample"]
    return document, entry
