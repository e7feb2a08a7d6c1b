"""The shipped catalogue matches the researched reference exactly; lookups work both ways."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import REPO, run_cli

from evidentia.catalog import load_builtin, parse_catalog
from evidentia.errors import CatalogError

REFERENCE = REPO.parent / "shared" / "catalog" / "en304223.yaml"
SHIPPED = REPO / "core" / "catalog" / "en304223.yaml"


def test_shipped_catalogue_has_the_standard_shape() -> None:
    cat = load_builtin()
    assert list(cat.principles) == [f"P{n}" for n in range(1, 14)]
    provisions = [p for pr in cat.principles.values() for p in pr.provisions]
    assert len(provisions) == 72
    norms = [p["norm"] for p in provisions]
    assert (norms.count("shall"), norms.count("should")) == (49, 23)
    assert len(cat.themes) == 11
    assert cat.principle("p5").title == "Identify, track and protect the assets"
    assert cat.principle("P13").phase == "secure_end_of_life"


def test_ids_titles_and_mappings_equal_the_researched_reference() -> None:
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent (it ships beside the repository in CI, not in clones)")
    ref = yaml.safe_load(REFERENCE.read_text())
    cat = load_builtin()
    for raw in ref["principles"]:
        p = cat.principle(raw["id"])
        assert (p.title, p.clause, p.phase) == (raw["title"], raw["clause"], raw["phase"])
        assert [x["id"] for x in p.provisions] == [x["id"] for x in raw["provisions"]]
        for fw, controls in raw["mappings"].items():
            assert [(c.id, c.title, c.fit) for c in p.mappings[fw]] == [
                (c["id"], c["title"], c["fit"]) for c in controls
            ]
    assert [t["id"] for t in cat.themes] == [t["id"] for t in ref["themes"]]
    assert [t.get("corrections") for t in cat.themes] == [t.get("corrections") for t in ref["themes"]]


def test_lookup_by_control_in_either_framework() -> None:
    cat = load_builtin()
    assert [p.id for p, _ in cat.principles_for_control("A.5.9")] == ["P5", "P8"]
    assert {p.id for p, _ in cat.principles_for_control("cc8.1")} == {"P2", "P8", "P9", "P11"}
    assert cat.principles_for_control("CC8.3") == []  # a seed-table control that does not exist


def test_catalog_cli_looks_up_both_directions(tmp_path: Path) -> None:
    principle = run_cli("catalog", "--principle", "P7", "--json", cwd=tmp_path)
    data = json.loads(principle.stdout)
    assert data["title"] == "Secure the supply chain"
    assert "CC9.2" in [c["id"] for c in data["mappings"]["soc2"]]
    control = run_cli("catalog", "--control", "CC6.1", cwd=tmp_path)
    assert control.returncode == 0 and "P6" in control.stdout
    unknown = run_cli("catalog", "--control", "CC8.3", cwd=tmp_path)
    assert unknown.returncode == 2 and "no principle maps to control 'CC8.3'" in unknown.stderr
    full = run_cli("catalog", cwd=tmp_path)
    assert "correction CC8.3: no such criterion" in full.stdout


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["principles"][4].pop("title"), "(P5): missing or non-text 'title'"),
        (lambda d: d["principles"][0]["mappings"]["soc2"][0].update(fit="strong"), "fit must be one of"),
        (lambda d: d["principles"].append(copy.deepcopy(d["principles"][0])), "principle P1 appears twice"),
        (lambda d: d["themes"][0].update(principles=["P99"]), "names unknown principles ['P99']"),
        (lambda d: d.pop("evidentia_catalog"), "is this an Evidentia catalogue?"),
        (lambda d: d["principles"][2].update(id="Principle3"), "bad principle id 'Principle3'"),
    ],
)
def test_malformed_catalogue_is_rejected_with_its_place(mutate: Any, message: str) -> None:
    data = _shipped()
    mutate(data)
    with pytest.raises(CatalogError) as info:
        parse_catalog(data, "custom.yaml")
    assert message in str(info.value) and str(info.value).startswith("custom.yaml")
